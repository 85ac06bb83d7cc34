import { randomBytes } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { hashApiKey } from '../../src/control/api-key.js';
import { createControlServices } from '../../src/control/control-services.js';
import { createCredentialCipher } from '../../src/control/credential-cipher.js';
import type { Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrator.js';
import { DEFAULT_MODEL_ALIASES } from '../../src/images/model-aliases.js';
import { SETTINGS_DEFAULTS } from '../../src/store/settings-defaults.js';
import { loadSnapshot, UNREADABLE_CREDENTIALS } from '../../src/store/snapshot-loader.js';
import type { Snapshot } from '../../src/store/types.js';
import { applyUsageDeltas } from '../../src/store/usage-repo.js';
import { describeEachBackend } from '../support/databases.js';
import { makeCodexAuthJson } from '../support/jwt.js';

const cipher = createCredentialCipher(randomBytes(32));
const authA = makeCodexAuthJson({ accountId: 'chatgpt-a', email: 'a@example.com', planType: 'plus' });
const authB = makeCodexAuthJson({ accountId: 'chatgpt-b', email: 'b@example.com', planType: 'pro' });
const authC = makeCodexAuthJson({ accountId: 'chatgpt-c', email: 'c@example.com' });

/** A Db that counts the statements run through it (directly or in transactions). */
function countQueries(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const counted: Db = {
    ...db,
    query: (sql, params) => {
      n += 1;
      return db.query(sql, params);
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          ...tx,
          query: (sql, params) => {
            n += 1;
            return tx.query(sql, params);
          },
        }),
      ),
  };
  return { db: counted, count: () => n };
}

describeEachBackend('loadSnapshot', ({ database }) => {
  let secrets: { all: string; list: string; group: string };
  let snapshot: Snapshot;
  let accountIds: Record<string, string>;

  beforeAll(async () => {
    const { db } = database();
    await migrate(db);
    const control = createControlServices({ db, cipher, now: () => 5_000 });
    const a = await control.accounts.import({ auth: authA, proxyUrl: 'socks5h://user:pw@127.0.0.1:1080' });
    const b = await control.accounts.import({ auth: JSON.stringify(authB), name: 'bee', imageConcurrency: 7 });
    const c = await control.accounts.import({ auth: authC, imageEnabled: false });
    accountIds = { a: a.id, b: b.id, c: c.id };
    await control.groups.create({ name: 'pool', accounts: ['c@example.com', 'bee'] });
    secrets = {
      all: (await control.keys.create({ name: 'all', quotaTokens: 1000 })).secret,
      list: (await control.keys.create({ name: 'list', routing: { mode: 'accounts', accounts: ['bee', 'a@example.com'] }, maxConcurrency: 2 })).secret,
      group: (await control.keys.create({ name: 'grouped', routing: { mode: 'group', group: 'pool' }, status: 'disabled' })).secret,
    };
    await control.settings.update({ codexClientVersion: '0.200.1' });
    const [listKey, allKey] = [await control.keys.get('list'), await control.keys.get('all')];
    await applyUsageDeltas(db, [
      {
        keyId: listKey.id,
        requests: 3,
        successes: 2,
        images: 2,
        inputTokens: 10,
        outputTokens: 20,
        totalTokens: 30,
        usageMissing: 1,
        estimatedCostMicros: 0,
        lastUsedAt: 9,
      },
      {
        keyId: allKey.id,
        requests: 1,
        successes: 1,
        images: 1,
        inputTokens: 15,
        outputTokens: 25,
        totalTokens: 40,
        usageMissing: 0,
        estimatedCostMicros: 1_234,
        lastUsedAt: 9,
      },
    ]);
    snapshot = await loadSnapshot(db, cipher, () => 123);
  });

  it('indexes keys by the hash of their secret, with routing by id', () => {
    expect(snapshot.keysByHash.size).toBe(3);
    const all = snapshot.keysByHash.get(hashApiKey(secrets.all));
    expect(all).toMatchObject({ name: 'all', quotaTokens: 1000, status: 'active', imageEnabled: true, routing: { mode: 'all' } });
    const list = snapshot.keysByHash.get(hashApiKey(secrets.list));
    expect(list).toMatchObject({ maxConcurrency: 2, routing: { mode: 'accounts', accountIds: [accountIds.b, accountIds.a] } });
    const grouped = snapshot.keysByHash.get(hashApiKey(secrets.group));
    const poolId = [...snapshot.groups.values()].find((g) => g.name === 'pool')?.id;
    expect(grouped).toMatchObject({ status: 'disabled', routing: { mode: 'group', groupId: poolId } });
    expect(snapshot.keysByHash.get(hashApiKey(`${secrets.all}x`))).toBeUndefined();
  });

  it('opens credentials and proxies', () => {
    const a = snapshot.accounts.get(accountIds.a!);
    expect(a?.credentials).toEqual({
      accessToken: authA.tokens.access_token,
      refreshToken: authA.tokens.refresh_token,
      idToken: authA.tokens.id_token,
      chatgptAccountId: 'chatgpt-a',
      fedramp: false,
    });
    expect(a).toMatchObject({ name: 'a@example.com', proxyUrl: 'socks5h://user:pw@127.0.0.1:1080', planType: 'plus', imageConcurrency: 3 });
    expect(snapshot.accounts.get(accountIds.b!)).toMatchObject({ name: 'bee', proxyUrl: null, imageConcurrency: 7, planType: 'pro' });
    expect(snapshot.accounts.get(accountIds.c!)).toMatchObject({ imageEnabled: false });
  });

  it("carries groups in order, settings over defaults, model aliases, budgeted keys' usage and load time", () => {
    expect([...snapshot.groups.values()].map((g) => ({ name: g.name, accountIds: g.accountIds }))).toEqual([
      { name: 'pool', accountIds: [accountIds.c, accountIds.b] },
    ]);
    expect(snapshot.settings).toEqual({ ...SETTINGS_DEFAULTS, codexClientVersion: '0.200.1' });
    expect(snapshot.modelAliases.map((r) => r.alias)).toEqual([...DEFAULT_MODEL_ALIASES.map((r) => r.alias)].sort());
    // Only the key with a quota: its lifetime counters, the period of a `none` quota.
    expect([...snapshot.periodUsage.values()]).toEqual([{ periodStartMs: 0, periodEndMs: null, used: { images: 1, tokens: 40, costMicros: 1_234 } }]);
    expect(snapshot.loadedAt).toBe(123);
  });

  it('loads in a fixed handful of statements, however many rows', async () => {
    const counted = countQueries(database().db);
    await loadSnapshot(counted.db, cipher);
    // SET TRANSACTION + keys, accounts, groups, settings, model aliases, usage, master-key check.
    expect(counted.count()).toBeLessThanOrEqual(8);
  });

  it('gives credentials null for a corrupted blob and keeps the other accounts', async () => {
    const { db } = database();
    const [row] = await db.query<{ credentials_enc: Buffer }>('SELECT credentials_enc FROM accounts WHERE id = $1', [accountIds.b!]);
    const flipped = Buffer.from(row!.credentials_enc);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0xff;
    await db.query('UPDATE accounts SET credentials_enc = $2 WHERE id = $1', [accountIds.b!, flipped]);
    const loaded = await loadSnapshot(db, cipher);
    expect(loaded.accounts.get(accountIds.b!)).toMatchObject({ credentials: null, lastError: UNREADABLE_CREDENTIALS });
    expect(loaded.accounts.get(accountIds.a!)?.credentials?.accessToken).toBe(authA.tokens.access_token);
    await db.query('UPDATE accounts SET credentials_enc = $2 WHERE id = $1', [accountIds.b!, row!.credentials_enc]);
  });

  it('under another master key loads every account without credentials or proxy, and does not throw', async () => {
    const loaded = await loadSnapshot(database().db, createCredentialCipher(randomBytes(32)));
    expect(loaded.accounts.size).toBe(3);
    for (const account of loaded.accounts.values()) expect(account).toMatchObject({ credentials: null, proxyUrl: null });
    expect(loaded.keysByHash.size).toBe(3);
  });
});
