import { randomBytes } from 'node:crypto';
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { UNREADABLE_PROXY } from '../../../src/control/account-view.js';
import type { ControlApi } from '../../../src/control/control-api.js';
import { createControlServices } from '../../../src/control/control-services.js';
import { createCredentialCipher } from '../../../src/control/credential-cipher.js';
import { AUTH_IMPORT_REFUSALS } from '../../../src/upstream/codex-auth.js';
import type { Db } from '../../../src/store/db.js';
import { migrate } from '../../../src/store/migrator.js';
import { loadSnapshot } from '../../../src/store/snapshot-loader.js';
import { describeEachBackend } from '../../support/databases.js';
import { CODEX_PROFILE_CLAIM, makeCodexAuthJson, makeCodexJwt } from '../../support/jwt.js';

const cipher = createCredentialCipher(randomBytes(32));
const EXP = 1_900_000_000;
const IMAGE_CONCURRENCY = 'image_concurrency must be an integer between 1 and 1024';
const PROXY = 'proxy must be an http, https, socks5 or socks5h URL';
/** A valid Codex auth.json for a ChatGPT account `id`: the smallest document an import accepts is its tokens. */
const validAuth = (id: string) => makeCodexAuthJson({ accountId: id });

async function failure(fn: () => Promise<unknown>): Promise<{ code: string; message: string; param: string | null }> {
  try {
    await fn();
  } catch (err) {
    const { code, message, param } = err as { code: string; message: string; param: string | null };
    return { code, message, param };
  }
  throw new Error('expected a failure');
}

/** Every row of every table, as text, in both the plain and the hex (bytea) spelling. */
async function dumpDatabase(db: Db): Promise<string> {
  const tables = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${table_name} t`);
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join('\n');
}

/** Needles for a secret: as is, and as the hex a bytea column would show. */
const spellings = (secret: string) => [secret, Buffer.from(secret).toString('hex')];

describeEachBackend('account service', ({ database }) => {
  let control: ControlApi;
  let clock = 1_000;

  beforeAll(async () => {
    await migrate(database().db);
    control = createControlServices({ db: database().db, cipher, now: () => clock });
  });
  beforeEach(async () => {
    await database().db.query('DELETE FROM api_keys');
    await database().db.query('DELETE FROM groups');
    await database().db.query('DELETE FROM accounts');
    clock = 1_000;
  });

  it('imports an auth.json: name from the email, facts from the tokens, no token in the view', async () => {
    const auth = makeCodexAuthJson({
      accountId: 'chat-1',
      email: 'ann@example.com',
      planType: 'plus',
      expSeconds: EXP,
      lastRefresh: '2026-01-02T03:04:05.000Z',
    });
    const view = await control.accounts.import({ auth: JSON.stringify(auth) });
    expect(view).toEqual({
      id: expect.stringMatching(/^acct_[0-9a-f]{24}$/),
      name: 'ann@example.com',
      status: 'active',
      imageEnabled: true,
      imageConcurrency: 3,
      proxy: null,
      planType: 'plus',
      email: 'ann@example.com',
      chatgptAccountId: 'chat-1',
      accessTokenExpiresAt: EXP * 1000,
      hasRefreshToken: true,
      lastRefreshAt: Date.parse('2026-01-02T03:04:05.000Z'),
      lastError: null,
      needsReimport: false,
      createdAt: 1_000,
      updatedAt: 1_000,
      outcome: 'created',
      changed: [],
    });
    const shown = JSON.stringify([view, await control.accounts.list(), await control.accounts.get(view.id)]);
    for (const token of [auth.tokens.access_token, auth.tokens.refresh_token, auth.tokens.id_token]) expect(shown).not.toContain(token);
  });

  it('names an account by the ChatGPT account id without an email, else by its id', async () => {
    const noEmail = (id: string) => ({
      access_token: makeCodexJwt({ accountId: id, extra: { email: undefined, [CODEX_PROFILE_CLAIM]: {} } }),
      refresh_token: `rt_${id}`,
    });
    expect((await control.accounts.import({ auth: noEmail('chat-only') })).name).toBe('chat-only');
    const unusable = await control.accounts.import({ auth: noEmail('x'.repeat(129)) });
    expect(unusable.name).toBe(unusable.id);
  });

  it.each<[string, unknown, string]>([
    ['an opaque access token', { tokens: { access_token: 'not-a-jwt', refresh_token: 'rt_1' } }, AUTH_IMPORT_REFUSALS.notJwt],
    ['a JWT whose payload is not JSON', { access_token: 'aaa.bm90LWpzb24.ccc', refresh_token: 'rt_1' }, AUTH_IMPORT_REFUSALS.notJwt],
    [
      'a JWT without the ChatGPT account claim',
      { tokens: { access_token: makeCodexJwt({ accountId: null }), refresh_token: 'rt_1', account_id: 'chat-x' } },
      AUTH_IMPORT_REFUSALS.noAccountClaim,
    ],
    ['no refresh token', { tokens: { access_token: makeCodexJwt({ accountId: 'chat-x' }) } }, AUTH_IMPORT_REFUSALS.noRefreshToken],
    ['a blank refresh token', { tokens: { access_token: makeCodexJwt({ accountId: 'chat-x' }), refresh_token: '  ' } }, AUTH_IMPORT_REFUSALS.noRefreshToken],
  ])('import refuses %s, naming the reason and never the token', async (_label, auth, message) => {
    const failed = await failure(() => control.accounts.import({ auth }));
    expect(failed).toEqual({ code: 'invalid_request', message, param: 'auth' });
    expect(failed.message).not.toContain('not-a-jwt');
    expect(failed.message).not.toContain('eyJ');
    expect(await control.accounts.list()).toEqual([]);
  });

  it("the issue's example document is refused in words an operator can act on", async () => {
    expect(await failure(() => control.accounts.import({ auth: '{"tokens":{"access_token":"not-a-jwt"}}' }))).toEqual({
      code: 'invalid_request',
      message: 'auth JSON access token is not a JWT: import the auth.json that `codex login` writes (~/.codex/auth.json)',
      param: 'auth',
    });
  });

  it('re-importing the same name replaces credentials and keeps settings', async () => {
    const first = await control.accounts.import({
      auth: makeCodexAuthJson({ accountId: 'c1', expSeconds: EXP }),
      name: 'acc',
      imageConcurrency: 9,
      proxyUrl: 'http://u:p@127.0.0.1:3128',
    });
    await control.accounts.update('acc', { status: 'disabled', imageEnabled: false });
    clock = 2_000;
    const fresh = makeCodexAuthJson({ accountId: 'c1', expSeconds: EXP + 100 });
    const again = await control.accounts.import({ auth: fresh, name: 'acc' });
    expect(again).toMatchObject({
      id: first.id,
      status: 'disabled',
      imageEnabled: false,
      imageConcurrency: 9,
      proxy: 'http://u:***@127.0.0.1:3128',
      accessTokenExpiresAt: (EXP + 100) * 1000,
      updatedAt: 2_000,
      createdAt: 1_000,
    });
    expect(again).toMatchObject({ outcome: 'updated', changed: ['tokens', 'expiry'] });
    const snapshot = await loadSnapshot(database().db, cipher);
    expect(snapshot.accounts.get(first.id)?.credentials?.accessToken).toBe(fresh.tokens.access_token);
    expect(await control.accounts.list()).toHaveLength(1);
  });

  it('re-importing the same ChatGPT identity under a renamed account updates that account', async () => {
    // Fixed expiries: tokens minted in the same second would otherwise be equal or not by chance.
    const auth = makeCodexAuthJson({ accountId: 'c2', email: 'bo@example.com', expSeconds: EXP });
    const first = await control.accounts.import({ auth });
    await control.accounts.update(first.id, { name: 'bo' });
    const again = await control.accounts.import({
      auth: makeCodexAuthJson({ accountId: 'c2', email: 'bo@example.com', expSeconds: EXP + 60 }),
      imageConcurrency: 5,
    });
    expect(again).toMatchObject({ id: first.id, name: 'bo', imageConcurrency: 5, outcome: 'updated', changed: ['tokens', 'expiry', 'image_concurrency'] });
    expect(await control.accounts.list()).toHaveLength(1);
  });

  it('re-importing the very same auth.json answers updated with nothing changed', async () => {
    const auth = makeCodexAuthJson({ accountId: 'same', email: 'same@example.com', expSeconds: EXP });
    await control.accounts.import({ auth, imageConcurrency: 4 });
    expect(await control.accounts.import({ auth, imageConcurrency: 4, imageEnabled: true, proxyUrl: null })).toMatchObject({ outcome: 'updated', changed: [] });
  });

  it('a re-import names each changed fact and given setting, never a value', async () => {
    const first = await control.accounts.import({
      auth: makeCodexAuthJson({ accountId: 'old-ws', email: 'old@example.com', planType: 'plus', expSeconds: EXP }),
      name: 'n',
    });
    const next = makeCodexAuthJson({ accountId: 'new-ws', email: 'new@example.com', planType: 'pro', expSeconds: EXP + 1 });
    const again = await control.accounts.import({ auth: next, name: 'n', imageEnabled: false, imageConcurrency: 3, proxyUrl: 'socks5://127.0.0.1:1080' });
    expect(again).toMatchObject({ id: first.id, outcome: 'updated', chatgptAccountId: 'new-ws', planType: 'pro' });
    expect(again.changed).toEqual(['tokens', 'account_id', 'email', 'plan', 'expiry', 'image_enabled', 'proxy_url']);
    const renamed = await control.accounts.import({ auth: next, name: 'renamed-by-identity' });
    expect(renamed).toMatchObject({ id: first.id, name: 'renamed-by-identity', changed: ['name'] });
  });

  it('a re-import without settings keeps every operator setting (image off, concurrency, proxy, status)', async () => {
    // A fixed expiry: two tokens minted a second apart would otherwise differ in it too.
    const auth = () => makeCodexAuthJson({ accountId: 'keep', expSeconds: EXP });
    const first = await control.accounts.import({ auth: auth(), imageConcurrency: 11, proxyUrl: 'http://127.0.0.1:3128' });
    await control.accounts.update(first.id, { imageEnabled: false, status: 'disabled' });
    const again = await control.accounts.import({ auth: auth() });
    expect(again).toMatchObject({
      id: first.id,
      outcome: 'updated',
      imageEnabled: false,
      imageConcurrency: 11,
      proxy: 'http://127.0.0.1:3128',
      status: 'disabled',
    });
    expect(again.changed).toEqual(['tokens']);
  });

  it('keeps team members apart: same workspace id, different email → a new account', async () => {
    await control.accounts.import({ auth: makeCodexAuthJson({ accountId: 'team-ws', email: 'x@corp.example' }) });
    await control.accounts.import({ auth: makeCodexAuthJson({ accountId: 'team-ws', email: 'y@corp.example' }) });
    expect((await control.accounts.list()).map((a) => a.name)).toEqual(['x@corp.example', 'y@corp.example']);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['auth missing', {}, 'auth is required', 'auth'],
    ['auth not JSON', { auth: '{nope' }, 'auth JSON is not valid JSON', 'auth'],
    ['auth without a token', { auth: { tokens: {} } }, 'auth JSON has no access token', 'auth'],
    ['auth with an opaque token', { auth: { tokens: { access_token: 'opaque', refresh_token: 'rt' } } }, AUTH_IMPORT_REFUSALS.notJwt, 'auth'],
    ['concurrency 0', { auth: validAuth('t'), imageConcurrency: 0 }, IMAGE_CONCURRENCY, 'image_concurrency'],
    ['concurrency 1025', { auth: validAuth('t'), imageConcurrency: 1025 }, IMAGE_CONCURRENCY, 'image_concurrency'],
    ['concurrency as text', { auth: validAuth('t'), imageConcurrency: '3' }, IMAGE_CONCURRENCY, 'image_concurrency'],
    ['ftp proxy', { auth: validAuth('t'), proxyUrl: 'ftp://127.0.0.1:21' }, PROXY, 'proxy_url'],
    ['socks4 proxy', { auth: validAuth('t'), proxyUrl: 'socks4://127.0.0.1:1080' }, PROXY, 'proxy_url'],
    ['proxy without scheme', { auth: validAuth('t'), proxyUrl: '127.0.0.1:8080' }, PROXY, 'proxy_url'],
    ['image switch as number', { auth: validAuth('t'), imageEnabled: 1 }, 'image_enabled must be true or false', 'image_enabled'],
    ['status on import', { auth: validAuth('t'), status: 'active' }, 'unknown field `status`', 'status'],
    ['name too long', { auth: validAuth('t'), name: 'x'.repeat(129) }, 'name must be at most 128 characters', 'name'],
  ])('import rejects %s', async (_label, input, message, param) => {
    expect(await failure(() => control.accounts.import(input as never))).toEqual({ code: 'invalid_request', message, param });
    expect(await control.accounts.list()).toEqual([]);
  });

  it.each([1, 1024])('import accepts image concurrency %i', async (imageConcurrency) => {
    expect((await control.accounts.import({ auth: validAuth('t'), imageConcurrency })).imageConcurrency).toBe(imageConcurrency);
  });

  it('updates settings, validates, and finds accounts by id or name', async () => {
    const view = await control.accounts.import({ auth: validAuth('t'), name: 'a' });
    await control.accounts.import({ auth: validAuth('u'), name: 'b' });
    clock = 4_000;
    expect(await control.accounts.update(view.id, { proxyUrl: 'socks5h://tok@127.0.0.1:1080', imageConcurrency: 12 })).toMatchObject({
      proxy: 'socks5h://***@127.0.0.1:1080',
      imageConcurrency: 12,
      updatedAt: 4_000,
    });
    expect((await control.accounts.update('a', { proxyUrl: null })).proxy).toBeNull();
    expect(await failure(() => control.accounts.update('a', { status: 'paused' as never }))).toEqual({
      code: 'invalid_request',
      message: 'status must be active or disabled',
      param: 'status',
    });
    expect(await failure(() => control.accounts.update('a', { auth: {} } as never))).toMatchObject({ message: 'unknown field `auth`' });
    expect(await failure(() => control.accounts.update('a', { name: 'b' }))).toEqual({
      code: 'conflict',
      message: 'an account named `b` already exists',
      param: 'name',
    });
    expect(await failure(() => control.accounts.get('c'))).toEqual({ code: 'not_found', message: 'account not found', param: 'account' });
  });

  it('deleting an account takes it out of groups and key lists', async () => {
    await control.accounts.import({ auth: validAuth('t'), name: 'a' });
    await control.accounts.import({ auth: validAuth('u'), name: 'b' });
    await control.groups.create({ name: 'g', accounts: ['a', 'b'] });
    await control.keys.create({ name: 'k', routing: { mode: 'accounts', accounts: ['b', 'a'] } });
    await control.accounts.delete('a');
    expect((await control.groups.get('g')).accounts).toEqual(['b']);
    expect((await control.keys.get('k')).routing).toEqual({ mode: 'accounts', accounts: ['b'] });
    expect(await failure(() => control.accounts.delete('a'))).toMatchObject({ code: 'not_found' });
  });

  it('shows an unreadable proxy as such rather than failing the list', async () => {
    const view = await control.accounts.import({ auth: validAuth('t'), proxyUrl: 'http://127.0.0.1:1' });
    await database().db.query('UPDATE accounts SET proxy_url_enc = $2 WHERE id = $1', [view.id, randomBytes(40)]);
    expect((await control.accounts.get(view.id)).proxy).toBe(UNREADABLE_PROXY);
  });

  it('never stores tokens, key secrets or proxy passwords in clear in any table', async () => {
    const auth = makeCodexAuthJson({ accountId: 'leak-check', email: 'leak@example.com' });
    const flat = { accessToken: makeCodexJwt({ accountId: 'flat-leak' }), refreshToken: 'rt_flat_secret_value' };
    await control.accounts.import({ auth, proxyUrl: 'http://proxyuser:proxy-pass-1234@127.0.0.1:8080' });
    await control.accounts.import({ auth: flat, name: 'flat' });
    const { secret } = await control.keys.create({ name: 'k', routing: { mode: 'accounts', accounts: ['flat'] } });
    const dump = await dumpDatabase(database().db);
    expect(dump).toContain('leak@example.com');
    const secrets = [
      auth.tokens.access_token,
      auth.tokens.refresh_token,
      auth.tokens.id_token,
      flat.accessToken,
      flat.refreshToken,
      'proxy-pass-1234',
      secret,
      // Any part of the secret past the 12-character display prefix is a leak.
      secret.slice(12, 24),
      secret.slice(-12),
    ];
    for (const value of secrets) for (const needle of spellings(value)) expect(dump).not.toContain(needle);
    // JWT payloads carry the claims in clear base64: not one segment may appear either.
    for (const segment of auth.tokens.access_token.split('.')) expect(dump).not.toContain(segment);
  });
});
