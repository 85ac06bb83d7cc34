import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyRefreshResponse, CODEX_OAUTH_CLIENT_ID, createCodexOAuthClient, type RefreshResult } from '../../../src/upstream/codex-oauth-client.js';
import { createDispatcherPool, type DispatcherPool } from '../../../src/upstream/dispatcher-pool.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from '../../support/fake-codex-upstream.js';
import { decodeJwtPayload } from '../../../src/upstream/jwt.js';

describe('classifyRefreshResponse', () => {
  it.each<[string, number, string, RefreshResult]>([
    [
      '200 with every token',
      200,
      '{"access_token":"a","refresh_token":"r","id_token":"i"}',
      { kind: 'ok', tokens: { accessToken: 'a', refreshToken: 'r', idToken: 'i' } },
    ],
    [
      '200 with only an access token (keep the others)',
      200,
      '{"access_token":"a"}',
      { kind: 'ok', tokens: { accessToken: 'a', refreshToken: null, idToken: null } },
    ],
    ['200 with blank fields', 200, '{"access_token":" ","refresh_token":7}', { kind: 'ok', tokens: { accessToken: null, refreshToken: null, idToken: null } }],
    ['200 that is not JSON', 200, '<html>', { kind: 'transient', reason: 'token endpoint answered without a JSON object' }],
    ['reused, in error.code', 400, '{"error":{"code":"refresh_token_reused"}}', { kind: 'permanent', reason: 'refresh_token_reused' }],
    ['expired, as a string error', 400, '{"error":"refresh_token_expired"}', { kind: 'permanent', reason: 'refresh_token_expired' }],
    ['invalidated, top-level code', 400, '{"code":"refresh_token_invalidated"}', { kind: 'permanent', reason: 'refresh_token_invalidated' }],
    ['401 without a code', 401, '', { kind: 'permanent', reason: 'token endpoint answered 401' }],
    ['401 with another code', 401, '{"error":{"code":"invalid_grant"}}', { kind: 'permanent', reason: 'token endpoint answered 401 (invalid_grant)' }],
    [
      'near miss: a similar code is not permanent',
      400,
      '{"error":{"code":"refresh_token_reused_maybe"}}',
      { kind: 'transient', reason: 'token endpoint answered 400 (refresh_token_reused_maybe)' },
    ],
    ['503', 503, 'busy', { kind: 'transient', reason: 'token endpoint answered 503' }],
    ['429', 429, '{}', { kind: 'transient', reason: 'token endpoint answered 429' }],
    [
      'a code that looks like a token is not echoed',
      500,
      '{"error":{"code":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlIHdpdGggc3BhY2Vz c"}}',
      { kind: 'transient', reason: 'token endpoint answered 500 (unrecognised code)' },
    ],
  ])('%s', (_name, status, text, expected) => {
    expect(classifyRefreshResponse(status, text)).toEqual(expected);
  });
});

describe('createCodexOAuthClient against the fake token endpoint', () => {
  let fake: FakeCodexUpstream;
  let pool: DispatcherPool;
  beforeAll(async () => {
    fake = await startFakeCodexUpstream();
    pool = createDispatcherPool({ connectTimeoutMs: 1_000, headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000 });
  });
  afterAll(async () => {
    await pool.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('sends the Codex refresh grant and returns rotated tokens; the spent token is then refused for good', async () => {
    const client = createCodexOAuthClient({ tokenUrl: fake.oauthUrl, pool });
    const first = await client.refresh('rt_acct-1_0001', null);
    expect(first.kind).toBe('ok');
    if (first.kind !== 'ok') return;
    expect(first.tokens.refreshToken).toMatch(/^rt_acct-1_/);
    expect(first.tokens.refreshToken).not.toBe('rt_acct-1_0001');
    expect(decodeJwtPayload(first.tokens.accessToken)?.['https://api.openai.com/auth']).toMatchObject({ chatgpt_account_id: 'acct-1' });
    expect(fake.oauth.calls).toEqual([{ accountId: 'acct-1', status: 200, clientId: CODEX_OAUTH_CLIENT_ID, grantType: 'refresh_token' }]);
    expect(await client.refresh('rt_acct-1_0001', null)).toEqual({ kind: 'permanent', reason: 'refresh_token_reused' });
    expect(fake.oauth.refreshCount('acct-1')).toBe(1);
  });

  it.each([
    [{ kind: 'transient', status: 502 } as const, { kind: 'transient', reason: 'token endpoint answered 502 (server_error)' }],
    [{ kind: 'unauthorized' } as const, { kind: 'permanent', reason: 'token endpoint answered 401 (invalid_grant)' }],
    [{ kind: 'permanent', code: 'refresh_token_expired' } as const, { kind: 'permanent', reason: 'refresh_token_expired' }],
  ])('scripted failure %j → %j', async (failure, expected) => {
    fake.oauth.setFailure('acct-2', failure);
    const client = createCodexOAuthClient({ tokenUrl: fake.oauthUrl, pool });
    expect(await client.refresh('rt_acct-2_abcd', null)).toEqual(expected);
  });

  it('a dropped connection or a closed port is transient, and the reason holds no URL', async () => {
    fake.oauth.setFailure('acct-3', { kind: 'reset' });
    const client = createCodexOAuthClient({ tokenUrl: fake.oauthUrl, pool });
    const dropped = await client.refresh('rt_acct-3_abcd', null);
    expect(dropped).toMatchObject({ kind: 'transient', reason: expect.stringMatching(/^network error reaching the token endpoint/) });
    const closed = createCodexOAuthClient({ tokenUrl: 'http://127.0.0.1:1/oauth/token', pool });
    const refused = await closed.refresh('rt_acct-3_efgh', null);
    expect(refused).toEqual({ kind: 'transient', reason: 'network error reaching the token endpoint (ECONNREFUSED)' });
    expect(JSON.stringify([dropped, refused])).not.toMatch(/127\.0\.0\.1|rt_acct/);
  });

  it('refuses a token URL that is not http(s) at construction', () => {
    expect(() => createCodexOAuthClient({ tokenUrl: 'ftp://example.test/token', pool })).toThrow('CODEX_OAUTH_TOKEN_URL must be http(s)');
  });
});
