import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createControlServices } from '../../../src/control/control-services.js';
import { createCredentialCipher } from '../../../src/control/credential-cipher.js';
import {
  createTokenRefresher,
  UNSAVED_TOKENS_ERROR,
  type RefreshLog,
  type TokenRefresher,
  type TokenRefresherOptions,
} from '../../../src/control/token-refresher.js';
import { planCandidates } from '../../../src/dispatch/plan-candidates.js';
import { findAccount } from '../../../src/store/account-repo.js';
import { notifyAccountAuthFailed, watchControlChanges } from '../../../src/store/change-feed.js';
import type { Db, DbTx } from '../../../src/store/db.js';
import { migrate } from '../../../src/store/migrator.js';
import { loadSnapshot } from '../../../src/store/snapshot-loader.js';
import { createCodexOAuthClient } from '../../../src/upstream/codex-oauth-client.js';
import { createDispatcherPool, type DispatcherPool } from '../../../src/upstream/dispatcher-pool.js';
import { readJwtExpiryMs } from '../../../src/upstream/jwt.js';
import { describeEachBackend } from '../../support/databases.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from '../../support/fake-codex-upstream.js';
import { makeCodexAuthJson, type CodexAuthJsonOptions } from '../../support/jwt.js';
import { makeKey } from '../../support/snapshot-fixtures.js';
import { waitFor } from '../../support/wait-for.js';

const cipher = createCredentialCipher(randomBytes(32));
const MARGIN_MS = 600_000;
const DAY_MS = 24 * 3600 * 1000;

/** A Db whose writes of refreshed credentials fail while `failures.left` > 0 (an injected store fault). */
function failingCredentialWrites(db: Db): { db: Db; failures: { left: number; seen: number } } {
  const failures = { left: 0, seen: 0 };
  const wrapTx = (tx: DbTx): DbTx => ({
    exec: (sql) => tx.exec(sql),
    query: (sql, params) => {
      if (sql.includes('UPDATE accounts SET credentials_enc') && failures.left > 0) {
        failures.left -= 1;
        failures.seen += 1;
        return Promise.reject(Object.assign(new Error('injected store failure'), { code: '08006' }));
      }
      return tx.query(sql, params);
    },
  });
  const wrapped: Db = {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction((tx) => fn(wrapTx(tx))),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: () => db.close(),
  };
  return { db: wrapped, failures };
}

/** A RefreshLog that keeps every line, to check what was said (and that no token was). */
function recordingLog(): RefreshLog & { lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

let fake: FakeCodexUpstream;
let pool: DispatcherPool;
beforeAll(async () => {
  fake = await startFakeCodexUpstream();
  pool = createDispatcherPool({ connectTimeoutMs: 1_000, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });
});
afterAll(async () => {
  await pool.close();
  await fake.close();
});

describeEachBackend('token refresher', ({ kind, database }) => {
  let clock = Date.now();
  const refreshers: TokenRefresher[] = [];
  const build = (db: Db, over: Partial<TokenRefresherOptions> = {}): TokenRefresher => {
    const refresher = createTokenRefresher({
      db,
      cipher,
      oauth: createCodexOAuthClient({ tokenUrl: fake.oauthUrl, pool }),
      now: () => clock,
      marginMs: MARGIN_MS,
      scanMs: 3_600_000,
      ...over,
    });
    refreshers.push(refresher);
    return refresher;
  };
  const control = () => createControlServices({ db: database().db, cipher, now: () => clock });
  const importAccount = (accountId: string, opts: Partial<CodexAuthJsonOptions> = {}) => {
    const auth = makeCodexAuthJson({ accountId, lastRefresh: new Date(clock - 60_000).toISOString(), ...opts });
    return control()
      .accounts.import({ auth, name: accountId })
      .then((view) => ({ view, auth }));
  };
  const row = async (id: string) => (await findAccount(database().db, id))!;
  const snapshotAccount = async (id: string) => (await loadSnapshot(database().db, cipher)).accounts.get(id)!;

  beforeAll(async () => {
    await migrate(database().db);
  });
  beforeEach(async () => {
    for (const r of refreshers.splice(0)) await r.close();
    fake.reset();
    clock = Date.now();
    await database().db.exec('DELETE FROM accounts');
  });

  it('refreshes only tokens inside the margin; the rotated tokens are stored sealed and reach the snapshot', async () => {
    const nowSeconds = Math.floor(clock / 1000);
    const due = await importAccount('due-acct', { expSeconds: nowSeconds + 300 });
    const fresh = await importAccount('fresh-acct', { expSeconds: nowSeconds + 7200 });
    const changes: string[] = [];
    const unwatch = await watchControlChanges(database().db, (p) => changes.push(p));
    clock += 1_000;
    await build(database().db).scan();
    await waitFor('the reload notification', () => changes.includes('accounts'));
    await unwatch();
    expect(fake.oauth.refreshCount('due-acct')).toBe(1);
    expect(fake.oauth.refreshCount('fresh-acct')).toBe(0);

    const stored = await row(due.view.id);
    const account = await snapshotAccount(due.view.id);
    const newAccess = account.credentials!.accessToken;
    const newRefresh = account.credentials!.refreshToken!;
    expect(newAccess).not.toBe(due.auth.tokens.access_token);
    expect(newRefresh).toMatch(/^rt_due-acct_/);
    expect(newRefresh).not.toBe(due.auth.tokens.refresh_token);
    expect(account.credentials!.idToken).not.toBe(due.auth.tokens.id_token);
    expect(stored).toMatchObject({ accessTokenExpiresAt: readJwtExpiryMs(newAccess), lastRefreshAt: clock, lastError: null, needsReimport: false });
    expect(stored.accessTokenExpiresAt).toBeGreaterThan(clock + 3_000_000);
    const sealed = stored.credentialsEnc.toString('latin1');
    for (const secret of [newAccess, newRefresh, newAccess.split('.')[1]!]) expect(sealed).not.toContain(secret);
    expect((await row(fresh.view.id)).lastRefreshAt).toBe(clock - 1_000 - 60_000); // untouched since its import
    expect(changes).toContain('accounts');
  });

  it('refreshes a token of unknown expiry only when its last refresh is 8 days old', async () => {
    const old = await importAccount('old-acct', { expSeconds: null, lastRefresh: new Date(clock - 8 * DAY_MS).toISOString() });
    await importAccount('recent-acct', { expSeconds: null, lastRefresh: new Date(clock - 7 * DAY_MS).toISOString() });
    await build(database().db).scan();
    expect(fake.oauth.calls.map((c) => c.accountId)).toEqual(['old-acct']);
    expect((await row(old.view.id)).lastRefreshAt).toBe(clock);
  });

  it('keeps rotating: the next refresh uses the rotated refresh token (the spent one would be refused)', async () => {
    const acct = await importAccount('rotating', { expSeconds: Math.floor(clock / 1000) + 60 });
    const refresher = build(database().db);
    await refresher.scan();
    clock = (await row(acct.view.id)).accessTokenExpiresAt! - MARGIN_MS;
    await refresher.scan();
    expect(fake.oauth.calls.map((c) => c.status)).toEqual([200, 200]);
    expect((await row(acct.view.id)).needsReimport).toBe(false);
  });

  it('reuse detected (someone else spent the refresh token) → needs re-import, out of routing, healed by a new import', async () => {
    const acct = await importAccount('stolen', { expSeconds: Math.floor(clock / 1000) + 60 });
    const other = createCodexOAuthClient({ tokenUrl: fake.oauthUrl, pool });
    expect((await other.refresh(acct.auth.tokens.refresh_token, null)).kind).toBe('ok');
    const refresher = build(database().db);
    await refresher.scan();
    const marked = await row(acct.view.id);
    expect(marked.needsReimport).toBe(true);
    expect(marked.lastError).toBe("token refresh refused for good (refresh_token_reused); import this account's auth.json again");
    expect((await control().accounts.get(acct.view.id)).needsReimport).toBe(true);

    const snapshot = await loadSnapshot(database().db, cipher);
    const plan = planCandidates(makeKey(), snapshot, { now: clock, allowFreePlans: false, inFlight: () => 0, lastStartMs: () => 0 });
    expect(plan.candidates).toEqual([]);
    expect(plan.excluded).toEqual(['needs_reimport']);

    clock += 3_600_000;
    await refresher.scan();
    await refresher.refreshNow(acct.view.id);
    expect(fake.oauth.calls).toHaveLength(2); // the marked account is left alone

    await importAccount('stolen', { expSeconds: Math.floor(clock / 1000) + 7200 });
    const healed = await row(acct.view.id);
    expect(healed).toMatchObject({ needsReimport: false, lastError: null });
    const replanned = planCandidates(makeKey(), await loadSnapshot(database().db, cipher), {
      now: clock,
      allowFreePlans: false,
      inFlight: () => 0,
      lastStartMs: () => 0,
    });
    expect(replanned.candidates.map((c) => c.account.name)).toEqual(['stolen']);
  });

  it.each([
    ['refresh_token_expired', { kind: 'permanent', code: 'refresh_token_expired' } as const, 'refresh_token_expired'],
    ['refresh_token_invalidated', { kind: 'permanent', code: 'refresh_token_invalidated' } as const, 'refresh_token_invalidated'],
    ['401 from the token endpoint', { kind: 'unauthorized' } as const, 'token endpoint answered 401 (invalid_grant)'],
  ])('%s → needs re-import, with the reason and never a token in last_error', async (_name, failure, reason) => {
    const acct = await importAccount('doomed', { expSeconds: Math.floor(clock / 1000) + 60 });
    fake.oauth.setFailure('doomed', failure);
    await build(database().db).scan();
    const marked = await row(acct.view.id);
    expect(marked.needsReimport).toBe(true);
    expect(marked.lastError).toContain(`(${reason})`);
    for (const token of Object.values(acct.auth.tokens)) expect(marked.lastError).not.toContain(token);
  });

  it('transient failures never mark the account and are retried with growing backoff', async () => {
    const acct = await importAccount('flaky', { expSeconds: Math.floor(clock / 1000) + 60 });
    fake.oauth.setFailure('flaky', [{ kind: 'transient', status: 503 }, { kind: 'reset' }]);
    const refresher = build(database().db, { retryBaseMs: 30_000, retryMaxMs: 120_000 });
    await refresher.scan();
    expect(await row(acct.view.id)).toMatchObject({ needsReimport: false, lastError: null });
    await refresher.scan();
    expect(fake.oauth.calls).toHaveLength(1); // backing off
    clock += 30_000;
    await refresher.scan();
    expect(fake.oauth.calls).toHaveLength(2); // dropped connection: transient again, now 60 s
    clock += 59_999;
    await refresher.scan();
    expect(fake.oauth.calls).toHaveLength(2);
    clock += 1;
    await refresher.scan();
    expect(fake.oauth.calls.map((c) => c.status)).toEqual([503, -1, 200]);
    expect(await row(acct.view.id)).toMatchObject({ needsReimport: false, lastRefreshAt: clock });
  });

  it('a data-plane 401 notification refreshes that account at once, even far from its expiry; repeats within 30 s are skipped', async () => {
    const acct = await importAccount('rejected', { expSeconds: Math.floor(clock / 1000) + 7200 });
    const refresher = build(database().db);
    await refresher.start();
    await notifyAccountAuthFailed(database().db, acct.view.id);
    await waitFor('the 401-triggered refresh', async () => (await row(acct.view.id)).lastRefreshAt === clock);
    expect(fake.oauth.refreshCount('rejected')).toBe(1);
    expect(await refresher.refreshNow(acct.view.id)).toEqual({ kind: 'not_due' });
    clock += 30_000;
    expect(await refresher.refreshNow(acct.view.id)).toEqual({ kind: 'refreshed' });
    expect(await refresher.refreshNow('acct_00000000deadbeef')).toEqual({ kind: 'gone' });
  });

  it('concurrent triggers in one process share one refresh', async () => {
    const acct = await importAccount('popular', { expSeconds: Math.floor(clock / 1000) + 60 });
    fake.oauth.setDelay(100);
    try {
      const refresher = build(database().db);
      const outcomes = await Promise.all([refresher.refreshNow(acct.view.id), refresher.refreshNow(acct.view.id), refresher.scan()]);
      expect(outcomes.slice(0, 2)).toEqual([{ kind: 'refreshed' }, { kind: 'refreshed' }]);
      expect(fake.oauth.calls).toHaveLength(1);
    } finally {
      fake.oauth.setDelay(0);
    }
  });

  it('a failed store of rotated tokens keeps them and retries: nothing lost, the next rotation still works', async () => {
    const acct = await importAccount('unlucky', { expSeconds: Math.floor(clock / 1000) + 60 });
    const faulty = failingCredentialWrites(database().db);
    faulty.failures.left = 2;
    const log = recordingLog();
    const refresher = build(faulty.db, { storeRetryBaseMs: 10, storeRetryMaxMs: 20, log });
    expect(await refresher.refreshNow(acct.view.id)).toMatchObject({ kind: 'unsaved' });
    expect((await snapshotAccount(acct.view.id)).credentials!.refreshToken).toBe(acct.auth.tokens.refresh_token); // the store failed
    await waitFor('the kept tokens to be stored', async () => (await row(acct.view.id)).lastRefreshAt === clock);
    expect(faulty.failures.seen).toBe(2);
    expect(fake.oauth.calls.map((c) => c.status)).toEqual([200]); // stored from memory, not refreshed again
    const stored = (await snapshotAccount(acct.view.id)).credentials!;
    expect(stored.refreshToken).toMatch(/^rt_unlucky_/);
    expect(stored.refreshToken).not.toBe(acct.auth.tokens.refresh_token);

    // The stored refresh token is the live one: the next rotation is accepted (the spent one would be refused as reused).
    clock = (await row(acct.view.id)).accessTokenExpiresAt! - MARGIN_MS;
    await refresher.scan();
    expect(fake.oauth.calls.map((c) => c.status)).toEqual([200, 200]);
    expect(await row(acct.view.id)).toMatchObject({ needsReimport: false, lastError: null, lastRefreshAt: clock });
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.obj.attempts)).toEqual([1, 2]);
    const said = JSON.stringify(log.lines);
    for (const token of [acct.auth.tokens.refresh_token, stored.refreshToken!, stored.accessToken]) expect(said).not.toContain(token);
  });

  it('while the store keeps failing: last_error says so after the quick retries, and the next refresh spends the kept token, not the stale one', async () => {
    const acct = await importAccount('stuck', { expSeconds: Math.floor(clock / 1000) + 60 });
    const faulty = failingCredentialWrites(database().db);
    faulty.failures.left = Number.POSITIVE_INFINITY;
    const log = recordingLog();
    const refresher = build(faulty.db, { storeRetryBaseMs: 5, storeRetryMaxMs: 5, storeRetryAttempts: 2, log });
    await refresher.scan();
    await waitFor('the loud log line and last_error', async () => (await row(acct.view.id)).lastError === UNSAVED_TOKENS_ERROR);
    expect(faulty.failures.seen).toBe(3); // the first store, then two quick retries
    expect(log.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    expect((await row(acct.view.id)).needsReimport).toBe(false);

    // Much later the kept access token is due too; the database takes writes again.
    clock += 3_600_000;
    faulty.failures.left = 0;
    await refresher.scan();
    expect(fake.oauth.calls.map((c) => c.status)).toEqual([200, 200]); // the kept refresh token was accepted
    const stored = await row(acct.view.id);
    expect(stored).toMatchObject({ needsReimport: false, lastError: null, lastRefreshAt: clock });
    const refreshToken = (await snapshotAccount(acct.view.id)).credentials!.refreshToken!;
    expect(refreshToken).toMatch(/^rt_stuck_/);
    expect(refreshToken).not.toBe(acct.auth.tokens.refresh_token);
  });

  it('a re-import while tokens are kept wins: the kept document is dropped, not written over the new import', async () => {
    const acct = await importAccount('reimported', { expSeconds: Math.floor(clock / 1000) + 60 });
    const faulty = failingCredentialWrites(database().db);
    faulty.failures.left = 1;
    const refresher = build(faulty.db, { storeRetryBaseMs: 60_000 });
    expect(await refresher.refreshNow(acct.view.id)).toMatchObject({ kind: 'unsaved' });
    const fresh = await importAccount('reimported', { expSeconds: Math.floor(clock / 1000) + 7200 });
    await refresher.scan();
    expect((await snapshotAccount(acct.view.id)).credentials!.refreshToken).toBe(fresh.auth.tokens.refresh_token);
    expect(fake.oauth.calls).toHaveLength(1);
  });

  if (kind === 'postgres') {
    it('two control planes on one Postgres: the advisory lock lets only one refresh reach the token endpoint', async () => {
      const acct = await importAccount('shared', { expSeconds: Math.floor(clock / 1000) + 60 });
      fake.oauth.setDelay(300);
      try {
        const first = build(database().db);
        const second = build(database().openAnother()!);
        const outcomes = await Promise.all([first.refreshNow(acct.view.id), second.refreshNow(acct.view.id)]);
        expect(outcomes.map((o) => o?.kind).sort()).toEqual(['locked', 'refreshed']);
        expect(fake.oauth.calls).toHaveLength(1);
        // Afterwards the loser sees the new row and does not refresh again (it is no longer due).
        await second.scan();
        expect(fake.oauth.calls).toHaveLength(1);
        expect((await row(acct.view.id)).needsReimport).toBe(false);
      } finally {
        fake.oauth.setDelay(0);
      }
    });
  }
});
