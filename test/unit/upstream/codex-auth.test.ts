import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors/codes.js';
import { AUTH_IMPORT_REFUSALS, buildAccountCredentials, parseCodexAuth, parseImportableCodexAuth } from '../../../src/upstream/codex-auth.js';
import { CODEX_AUTH_CLAIM, makeCodexAuthJson, makeCodexJwt } from '../../support/jwt.js';

const EXP = 1_900_000_000;

describe('parseCodexAuth: accepted shapes', () => {
  it('reads a Codex CLI auth.json (object and text give the same result)', () => {
    const auth = makeCodexAuthJson({ accountId: 'acc-1', email: 'one@example.com', planType: 'pro', expSeconds: EXP, lastRefresh: '2026-08-01T12:34:56.789Z' });
    const parsed = parseCodexAuth(auth);
    expect(parsed).toEqual({
      document: auth,
      accessToken: auth.tokens.access_token,
      refreshToken: auth.tokens.refresh_token,
      idToken: auth.tokens.id_token,
      chatgptAccountId: 'acc-1',
      fedramp: false,
      email: 'one@example.com',
      planType: 'pro',
      accessTokenExpiresAt: EXP * 1000,
      lastRefreshAt: Date.parse('2026-08-01T12:34:56.789Z'),
    });
    expect(parseCodexAuth(JSON.stringify(auth))).toEqual(parsed);
    expect(parseCodexAuth(Buffer.from(JSON.stringify(auth)))).toEqual(parsed);
  });

  it('falls back to the token claim for the account id when tokens.account_id is missing (old files)', () => {
    const auth = makeCodexAuthJson({ accountId: 'from-claim', includeAccountId: false });
    expect(auth.tokens.account_id).toBeUndefined();
    expect(parseCodexAuth(auth).chatgptAccountId).toBe('from-claim');
  });

  it('takes the account id from the id token when the access token is opaque', () => {
    const idToken = makeCodexJwt({ accountId: 'id-claim', planType: 'team' });
    const parsed = parseCodexAuth({ tokens: { access_token: 'opaque', id_token: idToken } });
    expect(parsed).toMatchObject({ chatgptAccountId: 'id-claim', planType: 'team', email: 'id-claim@example.com', accessTokenExpiresAt: null });
  });

  it.each([
    ['flat camelCase, trimmed', { accessToken: ' token-a ', accountId: 'acct-a', isFedrampAccount: true }, 'token-a', 'acct-a', true],
    ['nested account.id', { tokens: { access_token: 'token-b' }, account: { id: 'acct-b' } }, 'token-b', 'acct-b', false],
    ['flat snake_case', { access_token: 'token-c', account_id: 'acct-c', is_fedramp_account: true }, 'token-c', 'acct-c', true],
    ['tokens.accessToken', { tokens: { accessToken: 'token-d' }, account: { account_id: 'acct-d' } }, 'token-d', 'acct-d', false],
    ['account.accountId', { accessToken: 'token-e', account: { accountId: 'acct-e' } }, 'token-e', 'acct-e', false],
  ])('reads %s', (_label, input, accessToken, accountId, fedramp) => {
    expect(parseCodexAuth(input)).toMatchObject({ accessToken, chatgptAccountId: accountId, fedramp });
  });

  it('prefers tokens.access_token, then tokens.accessToken, then access_token, then accessToken, skipping blanks', () => {
    expect(parseCodexAuth({ tokens: { access_token: 'one', accessToken: 'two' }, access_token: 'three' }).accessToken).toBe('one');
    expect(parseCodexAuth({ tokens: { access_token: '  ', accessToken: 'two' }, access_token: 'three' }).accessToken).toBe('two');
    expect(parseCodexAuth({ tokens: { access_token: '' }, access_token: 'three', accessToken: 'four' }).accessToken).toBe('three');
    expect(parseCodexAuth({ access_token: 7, accessToken: 'four' }).accessToken).toBe('four');
  });

  it('prefers tokens.account_id over the flat and nested forms and over the claim', () => {
    const access = makeCodexJwt({ accountId: 'claim' });
    expect(parseCodexAuth({ tokens: { access_token: access, account_id: 'file' }, account_id: 'flat' }).chatgptAccountId).toBe('file');
    expect(parseCodexAuth({ access_token: access, account_id: 'flat', account: { id: 'nested' } }).chatgptAccountId).toBe('flat');
    expect(parseCodexAuth({ access_token: access }).chatgptAccountId).toBe('claim');
  });

  it('reads fedramp from the claim when the JSON does not say, and the JSON flag wins', () => {
    const access = makeCodexJwt({ accountId: 'x', extra: { [CODEX_AUTH_CLAIM]: { chatgpt_account_is_fedramp: true } } });
    expect(parseCodexAuth({ access_token: access }).fedramp).toBe(true);
    expect(parseCodexAuth({ access_token: access, is_fedramp_account: false }).fedramp).toBe(false);
    expect(parseCodexAuth({ access_token: 'opaque', isFedrampAccount: 'yes' }).fedramp).toBe(false);
  });

  it('reads the email from the profile claim when there is no top-level email claim', () => {
    const access = makeCodexJwt({ accountId: 'x', email: 'p@example.com', extra: { email: undefined } });
    expect(parseCodexAuth({ access_token: access }).email).toBe('p@example.com');
  });

  it('leaves unknown facts null for an opaque token', () => {
    expect(parseCodexAuth({ access_token: 'opaque' })).toMatchObject({
      refreshToken: null,
      idToken: null,
      chatgptAccountId: null,
      email: null,
      planType: null,
      accessTokenExpiresAt: null,
      lastRefreshAt: null,
    });
  });

  it('builds in-memory credentials', () => {
    const auth = makeCodexAuthJson({ accountId: 'c' });
    expect(buildAccountCredentials(parseCodexAuth(auth))).toEqual({
      accessToken: auth.tokens.access_token,
      refreshToken: auth.tokens.refresh_token,
      idToken: auth.tokens.id_token,
      chatgptAccountId: 'c',
      fedramp: false,
    });
  });
});

describe('parseCodexAuth: rejected input', () => {
  it.each([
    ['text that is not JSON', '{"access_token": "sk-secret-value"', 'auth JSON is not valid JSON'],
    ['no access token', { tokens: { refresh_token: 'rt_secret' } }, 'auth JSON has no access token'],
    ['blank access tokens only', { access_token: '   ', tokens: { access_token: '' } }, 'auth JSON has no access token'],
    ['a JSON array', '["tok"]', 'auth JSON must be a JSON object'],
    ['a number', 5, 'auth JSON must be a JSON object'],
    ['null', null, 'auth JSON must be a JSON object'],
  ])('rejects %s without echoing it', (_label, input, message) => {
    let caught: unknown;
    try {
      parseCodexAuth(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect(caught).toMatchObject({ code: 'invalid_request', message, param: 'auth' });
    expect((caught as Error).message).not.toMatch(/secret|tok\b/);
  });
});

describe('parseImportableCodexAuth: what a new import must prove', () => {
  it('accepts a Codex CLI auth.json, also one whose account id is only in the access token claim', () => {
    for (const includeAccountId of [true, false]) {
      const auth = makeCodexAuthJson({ accountId: 'acc-imp', includeAccountId });
      expect(parseImportableCodexAuth(auth)).toEqual(parseCodexAuth(auth));
    }
  });

  it('accepts a flat document holding a JWT access token and a refresh token', () => {
    const flat = { accessToken: makeCodexJwt({ accountId: 'acc-flat' }), refreshToken: 'rt_flat' };
    expect(parseImportableCodexAuth(flat)).toMatchObject({ chatgptAccountId: 'acc-flat', refreshToken: 'rt_flat' });
  });

  it.each([
    ['an opaque access token', { tokens: { access_token: 'opaque-secret', refresh_token: 'rt_secret' } }, AUTH_IMPORT_REFUSALS.notJwt],
    ['a two-part token', { access_token: 'aGVhZA.eyJhIjoxfQ', refresh_token: 'rt_secret' }, AUTH_IMPORT_REFUSALS.notJwt],
    // The claim in the id token alone does not make the access token a ChatGPT one.
    [
      'the claim only in the id token',
      { tokens: { access_token: makeCodexJwt({ accountId: null }), id_token: makeCodexJwt({ accountId: 'acc' }), refresh_token: 'rt_secret' } },
      AUTH_IMPORT_REFUSALS.noAccountClaim,
    ],
    ['no refresh token', { tokens: { access_token: makeCodexJwt({ accountId: 'acc' }) } }, AUTH_IMPORT_REFUSALS.noRefreshToken],
  ])('refuses %s with the reason, param auth, and no token text', (_label, input, message) => {
    let caught: unknown;
    try {
      parseImportableCodexAuth(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'invalid_request', message, param: 'auth' });
    expect((caught as Error).message).not.toMatch(/secret|eyJ/);
  });
});
