import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminApp } from '../../src/admin/admin-app.js';
import { createControlServices } from '../../src/control/control-services.js';
import { createCredentialCipher } from '../../src/control/credential-cipher.js';
import { DEFAULT_MODEL_ALIASES } from '../../src/images/model-aliases.js';
import type { Db } from '../../src/store/db.js';
import { beatInstance, INSTANCE_DEAD_AFTER_BEATS, markInstanceStopped, type InstanceBeat } from '../../src/store/instance-repo.js';
import { finishJob, insertJob, markJobRunning, readJob } from '../../src/store/job-repo.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { openMigratedPglite } from '../support/pglite-template.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

let dir: string;
let db: Db;
let app: FastifyInstance;
/** Every response body this file saw, to check no secret leaked into any of them. */
const bodies: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-admin-api-'));
  db = await openMigratedPglite(join(dir, 'pglite'));
  const control = createControlServices({ db, cipher: createCredentialCipher(randomBytes(32)) });
  app = buildAdminApp({ control, adminToken: ADMIN_TOKEN });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

async function call(opts: InjectOptions & { auth?: boolean }): Promise<LightMyRequestResponse> {
  const { auth = true, ...rest } = opts;
  const res = await app.inject({ ...rest, headers: { ...(auth ? AUTH : {}), ...rest.headers } });
  bodies.push(res.body);
  return res;
}

const send = (method: 'POST' | 'PATCH' | 'PUT', url: string, payload: unknown) => call({ method, url, payload: payload as InjectOptions['payload'] });

function expectError(res: LightMyRequestResponse, status: number, code: string, param?: string | null): void {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json() as { error: Record<string, unknown> };
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  if (param !== undefined) expect(body.error.param).toBe(param);
}

const ROUTES: Array<[InjectOptions['method'], string]> = [
  ['GET', '/admin/api/health'],
  ['GET', '/admin/api/keys'],
  ['POST', '/admin/api/keys'],
  ['GET', '/admin/api/keys/k'],
  ['PATCH', '/admin/api/keys/k'],
  ['DELETE', '/admin/api/keys/k'],
  ['POST', '/admin/api/keys/k/rotate'],
  ['POST', '/admin/api/keys/k/reset-usage'],
  ['GET', '/admin/api/accounts'],
  ['POST', '/admin/api/accounts/import'],
  ['GET', '/admin/api/accounts/a'],
  ['PATCH', '/admin/api/accounts/a'],
  ['DELETE', '/admin/api/accounts/a'],
  ['GET', '/admin/api/accounts/health'],
  ['DELETE', '/admin/api/accounts/a/cooldown'],
  ['GET', '/admin/api/groups'],
  ['POST', '/admin/api/groups'],
  ['GET', '/admin/api/groups/g'],
  ['PATCH', '/admin/api/groups/g'],
  ['DELETE', '/admin/api/groups/g'],
  ['GET', '/admin/api/settings'],
  ['PATCH', '/admin/api/settings'],
  ['GET', '/admin/api/usage'],
  ['GET', '/admin/api/usage/keys'],
  ['GET', '/admin/api/model-aliases'],
  ['PUT', '/admin/api/model-aliases/m'],
  ['DELETE', '/admin/api/model-aliases/m'],
  ['POST', '/admin/api/model-aliases/reset'],
  ['GET', '/admin/api/jobs'],
  ['GET', '/admin/api/jobs/0123456789ab'],
  ['POST', '/admin/api/jobs/0123456789ab/cancel'],
  ['GET', '/admin/api/instances'],
  ['GET', '/admin/api/no-such-route'],
];

const BAD_AUTH: Array<[string, Record<string, string>]> = [
  ['no header', {}],
  ['wrong token', { authorization: 'Bearer wrong-token' }],
  ['token prefix', { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
  ['token plus a character', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
  ['other scheme', { authorization: `Basic ${ADMIN_TOKEN}` }],
  ['legacy x-admin-token header', { 'x-admin-token': ADMIN_TOKEN }],
];

describe('admin auth', () => {
  it.each(ROUTES)('%s %s refuses every request without the right token', async (method, url) => {
    for (const [label, headers] of BAD_AUTH) {
      const res = await call({ method, url, headers, auth: false, payload: method === 'POST' || method === 'PATCH' || method === 'PUT' ? {} : undefined });
      expect(res.statusCode, `${label}: ${res.body}`).toBe(401);
      expectError(res, 401, 'admin_unauthorized', null);
      expect(res.json().error.type).toBe('authentication_error');
    }
  });

  it('does not trust loopback callers', async () => {
    const res = await call({ method: 'GET', url: '/admin/api/keys', remoteAddress: '127.0.0.1', auth: false });
    expect(res.statusCode).toBe(401);
  });

  it('health answers {ok:true} with the token, with a request id and no-store', async () => {
    const res = await call({ method: 'GET', url: '/admin/api/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('puts x-request-id and no-store on errors too, a fresh id per request', async () => {
    const a = await call({ method: 'GET', url: '/admin/api/keys', auth: false });
    const b = await call({ method: 'GET', url: '/admin/api/nope' });
    expectError(b, 404, 'not_found');
    for (const res of [a, b]) expect(res.headers['cache-control']).toBe('no-store');
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });
});

describe('keys', () => {
  let secret = '';
  let keyId = '';

  it('create returns the secret once; list and show never hold it nor its hash', async () => {
    const res = await send('POST', '/admin/api/keys', { name: 'alpha', max_concurrency: 4, min_start_interval_ms: 250, quota_tokens: 1000 });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json() as { key: Record<string, unknown>; secret: string };
    secret = created.secret;
    keyId = String(created.key.id);
    expect(secret).toMatch(/^cig_/);
    expect(created.key).toMatchObject({ name: 'alpha', max_concurrency: 4, min_start_interval_ms: 250, quota_tokens: 1000, image_enabled: true });
    expect(created.key).toMatchObject({ routing: { mode: 'all' }, status: 'active' });
    const hash = createHash('sha256').update(secret).digest('hex');
    for (const url of ['/admin/api/keys', `/admin/api/keys/${keyId}`, '/admin/api/keys/alpha', '/admin/api/usage']) {
      const got = await call({ method: 'GET', url });
      expect(got.statusCode).toBe(200);
      expect(got.body).not.toContain(secret);
      expect(got.body).not.toContain(hash);
      expect(got.body).not.toContain(secret.slice(0, 20));
    }
    const list = (await call({ method: 'GET', url: '/admin/api/keys' })).json() as { data: Array<Record<string, unknown>> };
    expect(list.data.map((k) => k.name)).toEqual(['alpha']);
    expect(list.data[0]).toHaveProperty('usage.total_tokens', 0);
  });

  it.each([
    [{ name: 'v', max_concurrency: 0 }, 'max_concurrency'],
    [{ name: 'v', max_concurrency: 1025 }, 'max_concurrency'],
    [{ name: 'v', max_concurrency: 2.5 }, 'max_concurrency'],
    [{ name: 'v', max_concurrency: '5' }, 'max_concurrency'],
    [{ name: 'v', min_start_interval_ms: 300_001 }, 'min_start_interval_ms'],
    [{ name: 'v', min_start_interval_ms: -1 }, 'min_start_interval_ms'],
    [{ name: 'v', quota_tokens: -1 }, 'quota_tokens'],
    [{ name: 'v', image_enabled: 'yes' }, 'image_enabled'],
    [{ name: 'v', status: 'paused' }, 'status'],
    [{ name: '  ' }, 'name'],
    [{}, 'name'],
    [{ name: 'v', routing: { mode: 'accounts', accounts: ['no-such-account'] } }, 'routing.accounts'],
    [{ name: 'v', routing: { mode: 'group', group: 'no-such-group' } }, 'routing.group'],
    [{ name: 'v', routing: { mode: 'sometimes' } }, 'routing.mode'],
  ])('create refuses %j with a 400 naming %s', async (body, param) => {
    expectError(await send('POST', '/admin/api/keys', body), 400, 'invalid_request', param);
  });

  it.each([
    [{ name: 'v', maxConcurrency: 3 }, 'maxConcurrency'],
    [{ name: 'v', secret: 'cig_x' }, 'secret'],
  ])('create refuses unknown field in %j', async (body, param) => {
    expectError(await send('POST', '/admin/api/keys', body), 400, 'unknown_field', param);
  });

  it.each([null, [1], 'text'])('refuses a body that is not an object: %j', async (body) => {
    const res = await call({ method: 'POST', url: '/admin/api/keys', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(400);
  });

  it('refuses malformed JSON with an OpenAI-shaped 400', async () => {
    const res = await call({ method: 'POST', url: '/admin/api/keys', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
    expectError(res, 400, 'invalid_json');
  });

  it('accepts the edges of each range', async () => {
    const res = await send('POST', '/admin/api/keys', { name: 'edges', max_concurrency: 1024, min_start_interval_ms: 300_000, quota_tokens: 0 });
    expect(res.statusCode, res.body).toBe(201);
    const low = await send('PATCH', '/admin/api/keys/edges', { max_concurrency: 1, min_start_interval_ms: 0 });
    expect(low.json()).toMatchObject({ max_concurrency: 1, min_start_interval_ms: 0 });
  });

  it('a duplicate name is a 409', async () => {
    expectError(await send('POST', '/admin/api/keys', { name: 'alpha' }), 409, 'conflict', 'name');
  });

  it('update changes only what is given; null clears a limit', async () => {
    const res = await send('PATCH', `/admin/api/keys/${keyId}`, { status: 'disabled', max_concurrency: null, image_enabled: false });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'disabled', max_concurrency: null, image_enabled: false, min_start_interval_ms: 250, quota_tokens: 1000 });
    expect(res.body).not.toContain(secret);
  });

  it('update validates like create', async () => {
    expectError(await send('PATCH', '/admin/api/keys/alpha', { max_concurrency: 1025 }), 400, 'invalid_request', 'max_concurrency');
  });

  it('expires_at: an ISO date-time or ms in, ms out; a past time is a 400', async () => {
    const res = await send('PATCH', '/admin/api/keys/alpha', { expires_at: '2099-01-01T00:00:00Z' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ expires_at: Date.UTC(2099, 0, 1), previous_secret_expires_at: null });
    expectError(await send('PATCH', '/admin/api/keys/alpha', { expires_at: '2001-01-01T00:00:00Z' }), 400, 'invalid_request', 'expires_at');
    expect((await send('PATCH', '/admin/api/keys/alpha', { expires_at: null })).json()).toMatchObject({ expires_at: null });
  });

  it('rotate answers the new secret once with when the old one stops; a bad grace is a 400', async () => {
    const res = await send('POST', '/admin/api/keys/alpha/rotate', { grace_ms: 3_600_000 });
    expect(res.statusCode, res.body).toBe(200);
    const rotated = res.json() as { key: Record<string, unknown>; secret: string };
    expect(rotated.secret).toMatch(/^cig_/);
    expect(rotated.secret).not.toBe(secret);
    expect(rotated.key).toMatchObject({ id: keyId, prefix: rotated.secret.slice(0, 12), previous_secret_expires_at: expect.any(Number) });
    const shown = await call({ method: 'GET', url: '/admin/api/keys/alpha' });
    expect(shown.body).not.toContain(rotated.secret);
    expect(shown.body).not.toContain(createHash('sha256').update(secret).digest('hex'));
    // No body at all means the defaults: no grace, the previous secret refused at once.
    const plain = await call({ method: 'POST', url: '/admin/api/keys/alpha/rotate', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(plain.statusCode, plain.body).toBe(200);
    expect(plain.json()).toMatchObject({ key: { previous_secret_expires_at: null } });
    expectError(await send('POST', '/admin/api/keys/alpha/rotate', { grace_ms: -1 }), 400, 'invalid_request', 'grace_ms');
    expectError(await send('POST', '/admin/api/keys/alpha/rotate', { graceMs: 1 }), 400, 'unknown_field', 'graceMs');
    expectError(await send('POST', '/admin/api/keys/nope/rotate', {}), 404, 'not_found');
  });

  it('a budget in snake_case: period, images, dollars; reset-usage answers the key with its reset; bad values are 400 naming the field', async () => {
    const res = await send('PATCH', '/admin/api/keys/alpha', { quota_period: 'week', quota_images: 50, quota_cost_usd: 7.25 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      quota_period: 'week',
      quota_images: 50,
      quota_cost_usd: 7.25,
      period_usage: { images: 0, tokens: 0, estimated_cost_usd: 0 },
    });
    const period = (res.json() as { period_usage: { starts_at: number; ends_at: number } }).period_usage;
    expect(period.ends_at - period.starts_at).toBe(7 * 86_400_000);
    expect(new Date(period.starts_at).getUTCDay()).toBe(1);
    const reset = await send('POST', '/admin/api/keys/alpha/reset-usage', {});
    expect(reset.statusCode, reset.body).toBe(200);
    expect((reset.json() as { usage_reset_at: number }).usage_reset_at).toBeGreaterThanOrEqual(period.starts_at);
    expectError(await send('POST', '/admin/api/keys/nope/reset-usage', {}), 404, 'not_found');
    expectError(await send('PATCH', '/admin/api/keys/alpha', { quota_period: 'hourly' }), 400, 'invalid_request', 'quota_period');
    expectError(await send('PATCH', '/admin/api/keys/alpha', { quota_cost_usd: '7' }), 400, 'invalid_request', 'quota_cost_usd');
    expectError(await send('PATCH', '/admin/api/settings', { budget_time_zone: 'Mars/Olympus' }), 400, 'invalid_request', 'budget_time_zone');
    const back = await send('PATCH', '/admin/api/keys/alpha', { quota_period: 'none', quota_images: null, quota_cost_usd: null });
    expect(back.json()).toMatchObject({ quota_period: 'none', usage_reset_at: null });
  });

  it('unknown keys are 404 on show, update and delete', async () => {
    expectError(await call({ method: 'GET', url: '/admin/api/keys/nope' }), 404, 'not_found');
    expectError(await send('PATCH', '/admin/api/keys/nope', { status: 'active' }), 404, 'not_found');
    expectError(await call({ method: 'DELETE', url: '/admin/api/keys/nope' }), 404, 'not_found');
  });

  it('delete answers 204, then the key is gone', async () => {
    const res = await call({ method: 'DELETE', url: '/admin/api/keys/edges' });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expectError(await call({ method: 'GET', url: '/admin/api/keys/edges' }), 404, 'not_found');
  });
});

describe('accounts', () => {
  const auth = makeCodexAuthJson({ accountId: 'acct-alpha', email: 'alpha@example.com', planType: 'plus' });
  const TOKENS = [auth.tokens.access_token, auth.tokens.refresh_token, auth.tokens.id_token];

  it('imports a Codex auth.json: name from the token email, image on, no token in the answer', async () => {
    const res = await send('POST', '/admin/api/accounts/import', { auth });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      name: 'alpha@example.com',
      chatgpt_account_id: 'acct-alpha',
      plan_type: 'plus',
      image_enabled: true,
      image_concurrency: 3,
      has_refresh_token: true,
      proxy: null,
    });
    expect(res.json().access_token_expires_at).toBeGreaterThan(Date.now());
  });

  it('imports a flat JSON given as text, with options', async () => {
    const text = JSON.stringify({ accessToken: auth.tokens.access_token, refreshToken: auth.tokens.refresh_token, accountId: 'acct-flat' });
    const res = await send('POST', '/admin/api/accounts/import', { auth: text, name: 'flat', image_enabled: false, image_concurrency: 7 });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ name: 'flat', image_enabled: false, image_concurrency: 7, has_refresh_token: true, outcome: 'created', changed: [] });
  });

  it('a re-import answers 200 updated, names what changed, and keeps the settings not sent', async () => {
    const fresh = makeCodexAuthJson({ accountId: 'acct-flat', email: 'alpha@example.com', planType: 'pro', expSeconds: 1_900_000_000 });
    const res = await send('POST', '/admin/api/accounts/import', { auth: fresh, name: 'flat' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      name: 'flat',
      outcome: 'updated',
      changed: ['tokens', 'plan', 'expiry'],
      image_enabled: false,
      image_concurrency: 7,
      plan_type: 'pro',
    });
    const freshTokens = [fresh.tokens.access_token, fresh.tokens.refresh_token, fresh.tokens.id_token];
    for (const token of freshTokens) expect(res.body).not.toContain(token);
    TOKENS.push(...freshTokens);
  });

  it.each([
    [{ auth, name: 'x', image_concurrency: 0 }, 'image_concurrency'],
    [{ auth, name: 'x', image_concurrency: 1025 }, 'image_concurrency'],
    [{ auth: { tokens: {} }, name: 'x' }, 'auth'],
    [{ auth: { tokens: { access_token: 'not-a-jwt' } }, name: 'x' }, 'auth'],
    [{ auth: { ...auth, tokens: { ...auth.tokens, refresh_token: undefined } }, name: 'x' }, 'auth'],
    [{ name: 'x' }, 'auth'],
    [{ auth, name: 'x', proxy_url: 'ftp://proxy:21' }, 'proxy_url'],
  ])('import refuses %#', async (body, param) => {
    expectError(await send('POST', '/admin/api/accounts/import', body), 400, 'invalid_request', param);
  });

  it('import refuses a body over 1 MiB with 413', async () => {
    const res = await send('POST', '/admin/api/accounts/import', { auth: { padding: 'x'.repeat(1024 * 1024) } });
    expectError(res, 413, 'body_too_large');
  });

  it('other routes refuse bodies over 64 KiB', async () => {
    expectError(await send('POST', '/admin/api/groups', { name: 'x'.repeat(70 * 1024) }), 413, 'body_too_large');
  });

  it('update: image switch, concurrency, status and proxy (masked in the answer)', async () => {
    const res = await send('PATCH', '/admin/api/accounts/flat', {
      image_enabled: true,
      image_concurrency: 1024,
      status: 'disabled',
      proxy_url: 'http://user:hunter2@127.0.0.1:3128',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ image_enabled: true, image_concurrency: 1024, status: 'disabled' });
    expect(res.body).not.toContain('hunter2');
    const cleared = await send('PATCH', '/admin/api/accounts/flat', { proxy_url: null });
    expect(cleared.json().proxy).toBeNull();
  });

  it.each([
    [{ image_concurrency: 0 }, 'image_concurrency'],
    [{ image_concurrency: 1025 }, 'image_concurrency'],
    [{ image_enabled: 1 }, 'image_enabled'],
    [{ status: 'on' }, 'status'],
  ])('update refuses %j', async (body, param) => {
    expectError(await send('PATCH', '/admin/api/accounts/flat', body), 400, 'invalid_request', param);
  });

  it('update refuses auth (credentials change only by import)', async () => {
    expectError(await send('PATCH', '/admin/api/accounts/flat', { auth }), 400, 'unknown_field', 'auth');
  });

  it('list and show never hold a token', async () => {
    const list = await call({ method: 'GET', url: '/admin/api/accounts' });
    expect((list.json() as { data: unknown[] }).data).toHaveLength(2);
    const show = await call({ method: 'GET', url: `/admin/api/accounts/${encodeURIComponent('alpha@example.com')}` });
    expect(show.statusCode).toBe(200);
    for (const res of [list, show]) for (const token of TOKENS) expect(res.body).not.toContain(token);
  });

  it('a key can be pinned to accounts by name', async () => {
    const res = await send('POST', '/admin/api/keys', { name: 'pinned', routing: { mode: 'accounts', accounts: ['flat', 'alpha@example.com'] } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().key.routing).toEqual({ mode: 'accounts', accounts: ['flat', 'alpha@example.com'] });
  });

  it('unknown accounts are 404; delete answers 204', async () => {
    expectError(await call({ method: 'GET', url: '/admin/api/accounts/nope' }), 404, 'not_found');
    expectError(await send('PATCH', '/admin/api/accounts/nope', { image_enabled: true }), 404, 'not_found');
    const other = makeCodexAuthJson({ accountId: 'acct-temp' });
    const imported = await send('POST', '/admin/api/accounts/import', { auth: other, name: 'short-lived' });
    expect(imported.statusCode, imported.body).toBe(201);
    expect((await call({ method: 'DELETE', url: '/admin/api/accounts/short-lived' })).statusCode).toBe(204);
    expectError(await call({ method: 'DELETE', url: '/admin/api/accounts/short-lived' }), 404, 'not_found');
  });

  it('no response in this file ever held a token or a refresh token', () => {
    const all = bodies.join('\n');
    for (const token of TOKENS) expect(all).not.toContain(token);
  });
});

describe('groups', () => {
  it('create, list, show, rename, reorder, delete', async () => {
    const created = await send('POST', '/admin/api/groups', { name: 'team', accounts: ['flat'] });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: 'team', accounts: ['flat'] });
    expect((await call({ method: 'GET', url: '/admin/api/groups' })).json().data).toHaveLength(1);
    const updated = await send('PATCH', '/admin/api/groups/team', { name: 'crew', accounts: ['alpha@example.com', 'flat'] });
    expect(updated.json()).toMatchObject({ name: 'crew', accounts: ['alpha@example.com', 'flat'] });
    expect((await call({ method: 'GET', url: '/admin/api/groups/crew' })).statusCode).toBe(200);
    expect((await call({ method: 'DELETE', url: '/admin/api/groups/crew' })).statusCode).toBe(204);
    expectError(await call({ method: 'GET', url: '/admin/api/groups/crew' }), 404, 'not_found');
  });

  it('refuses unknown accounts and missing names', async () => {
    expectError(await send('POST', '/admin/api/groups', { name: 'g', accounts: ['ghost'] }), 400, 'invalid_request', 'accounts');
    expectError(await send('POST', '/admin/api/groups', { accounts: [] }), 400, 'invalid_request', 'name');
  });

  it('a key routed to a group; the group cannot be deleted while the key uses it', async () => {
    expect((await send('POST', '/admin/api/groups', { name: 'busy', accounts: ['flat'] })).statusCode).toBe(201);
    const key = await send('POST', '/admin/api/keys', { name: 'grouped', routing: { mode: 'group', group: 'busy' } });
    expect(key.json().key.routing).toEqual({ mode: 'group', group: 'busy' });
    expectError(await call({ method: 'DELETE', url: '/admin/api/groups/busy' }), 409, 'conflict', 'group');
  });
});

describe('settings and usage', () => {
  it('reads settings in snake_case and changes one', async () => {
    const before = (await call({ method: 'GET', url: '/admin/api/settings' })).json() as Record<string, unknown>;
    expect(Object.keys(before).sort()).toEqual([
      'budget_time_zone',
      'codex_client_version',
      'cors_allowed_origins',
      'field_policy',
      'job_max_queued_per_key',
      'log_max_file_age_ms',
      'log_max_file_bytes',
      'log_max_files',
      'model_aliases_strict',
      'n_mode',
      'price_table',
      'responses_fallback',
      'responses_host_model',
    ]);
    const res = await send('PATCH', '/admin/api/settings', { log_max_files: 7 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ ...before, log_max_files: 7 });
  });

  it.each([
    [{ log_max_files: 0 }, 'invalid_request', 'log_max_files'],
    [{ log_max_files: '7' }, 'invalid_request', 'log_max_files'],
    [{ codex_client_version: 'has spaces' }, 'invalid_request', 'codex_client_version'],
    [{ logMaxFiles: 3 }, 'unknown_field', 'logMaxFiles'],
    [{ cors_allowed_origins: 'https://app.example.com' }, 'invalid_request', 'cors_allowed_origins'],
    [{ cors_allowed_origins: ['https://app.example.com/app'] }, 'invalid_request', 'cors_allowed_origins'],
    [{ model_aliases_strict: 'true' }, 'invalid_request', 'model_aliases_strict'],
    [{ model_aliases_strict: 1 }, 'invalid_request', 'model_aliases_strict'],
  ])('refuses %j', async (body, code, param) => {
    expectError(await send('PATCH', '/admin/api/settings', body), 400, code, param);
  });

  it('stores cors_allowed_origins normalised, and clears it with []', async () => {
    const set = await send('PATCH', '/admin/api/settings', { cors_allowed_origins: ['HTTPS://App.Example.com:443/', 'http://localhost:5173'] });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().cors_allowed_origins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect((await send('PATCH', '/admin/api/settings', { cors_allowed_origins: [] })).json().cors_allowed_origins).toEqual([]);
  });

  it('usage/keys has the lifetime totals and one row per key', async () => {
    const res = await call({ method: 'GET', url: '/admin/api/usage/keys' });
    expect(res.statusCode).toBe(200);
    const usage = res.json() as { totals: Record<string, unknown>; keys: Array<Record<string, unknown>> };
    expect(usage.totals).toMatchObject({ requests: 0, total_tokens: 0, last_used_at: null });
    expect(usage.keys.map((k) => k.name).sort()).toEqual(['alpha', 'grouped', 'pinned']);
  });

  it('usage takes since as a duration before now (7d); a bad or repeated one is 400 naming since', async () => {
    const res = await call({ method: 'GET', url: '/admin/api/usage?since=7d' });
    expect(res.statusCode, res.body).toBe(200);
    const { since, until } = res.json() as { since: number; until: number };
    expect(until - since).toBe(7 * 86_400_000);
    for (const query of ['since=7y', 'since=1&since=2']) {
      const bad = await call({ method: 'GET', url: `/admin/api/usage?${query}` });
      expect(bad.statusCode, query).toBe(400);
      expect(bad.json().error, query).toMatchObject({ code: 'invalid_request', param: 'since' });
    }
  });
});

describe('no CORS on the admin API, whatever the public setting says', () => {
  const ORIGIN = 'https://app.example.com';

  beforeAll(async () => {
    expect((await send('PATCH', '/admin/api/settings', { cors_allowed_origins: ['*'] })).statusCode).toBe(200);
  });
  afterAll(async () => {
    await send('PATCH', '/admin/api/settings', { cors_allowed_origins: [] });
  });

  const accessControl = (res: LightMyRequestResponse) => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));

  it.each(['/admin/api/settings', '/admin/api/keys', '/admin/api/session', '/admin/'])('answers no preflight on %s', async (url) => {
    for (const auth of [true, false]) {
      const res = await call({
        method: 'OPTIONS',
        url,
        auth,
        headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      expect(res.statusCode, `${url} ${res.body}`).toBeGreaterThanOrEqual(400);
      expect(accessControl(res), url).toEqual([]);
    }
  });

  it('sends no CORS header on an authenticated cross-origin read', async () => {
    const res = await call({ method: 'GET', url: '/admin/api/settings', headers: { origin: ORIGIN } });
    expect(res.statusCode).toBe(200);
    expect(res.json().cors_allowed_origins).toEqual(['*']);
    expect(accessControl(res)).toEqual([]);
  });
});

describe('model aliases', () => {
  const list = async () => (await call({ method: 'GET', url: '/admin/api/model-aliases' })).json().data as Array<Record<string, unknown>>;

  it('lists the seeded defaults in snake_case, patterns marked', async () => {
    const rows = await list();
    expect(rows).toContainEqual({
      alias: 'dall-e-3',
      upstream_model: 'gpt-image-2',
      pattern: false,
      created_at: expect.any(Number),
      updated_at: expect.any(Number),
    });
    expect(rows).toContainEqual(expect.objectContaining({ alias: 'gpt-image-*', pattern: true }));
  });

  it('PUT creates or replaces one alias; the alias may hold `.`, `:`, `*` and an encoded `/`', async () => {
    for (const alias of ['my.model', 'ft:gpt-4o:org:x', 'team-*', 'openai/dall-e-3']) {
      const res = await send('PUT', `/admin/api/model-aliases/${encodeURIComponent(alias)}`, { upstream_model: 'gpt-image-1.5' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ alias, upstream_model: 'gpt-image-1.5', pattern: alias.endsWith('*') });
    }
    const again = await send('PUT', '/admin/api/model-aliases/my.model', { upstream_model: 'gpt-image-2' });
    expect(again.json()).toMatchObject({ alias: 'my.model', upstream_model: 'gpt-image-2' });
    expect((await list()).filter((r) => r.alias === 'my.model')).toHaveLength(1);
  });

  it.each([
    ['/admin/api/model-aliases/ok', { upstream_model: 'a b' }, 'invalid_request', 'upstream_model'],
    ['/admin/api/model-aliases/ok', {}, 'invalid_request', 'upstream_model'],
    ['/admin/api/model-aliases/ok', { upstreamModel: 'x' }, 'unknown_field', 'upstreamModel'],
    ['/admin/api/model-aliases/*', { upstream_model: 'x' }, 'invalid_request', 'alias'],
    ['/admin/api/model-aliases/a%20b', { upstream_model: 'x' }, 'invalid_request', 'alias'],
  ])('PUT %s %j → 400 %s on %s', async (url, body, code, param) => {
    expectError(await send('PUT', url, body), 400, code, param);
  });

  it('DELETE removes one (204), then 404 not_found', async () => {
    expect((await call({ method: 'DELETE', url: '/admin/api/model-aliases/ft%3Agpt-4o%3Aorg%3Ax' })).statusCode).toBe(204);
    expectError(await call({ method: 'DELETE', url: '/admin/api/model-aliases/ft%3Agpt-4o%3Aorg%3Ax' }), 404, 'not_found', 'alias');
  });

  it('POST /reset restores the defaults and answers them', async () => {
    const res = await call({ method: 'POST', url: '/admin/api/model-aliases/reset' });
    expect(res.statusCode, res.body).toBe(200);
    const aliases = (res.json().data as Array<{ alias: string }>).map((r) => r.alias);
    expect(aliases).toEqual(DEFAULT_MODEL_ALIASES.map((r) => r.alias).sort());
    expect((await list()).map((r) => r.alias)).toEqual(aliases);
  });

  it('the strict switch is the setting model_aliases_strict', async () => {
    const res = await send('PATCH', '/admin/api/settings', { model_aliases_strict: true });
    expect(res.json()).toMatchObject({ model_aliases_strict: true });
    expect((await send('PATCH', '/admin/api/settings', { model_aliases_strict: false })).json()).toMatchObject({ model_aliases_strict: false });
  });
});

describe('jobs (ids, status, timings; never a result)', () => {
  const INSTANCE = 'inst_0123abcd';
  /** What a result's sealed bytes look like; no answer may hold them in any encoding. */
  const SEALED = Buffer.from('sealed-result-bytes-that-must-never-leave');
  const hash = (n: number) => createHash('sha256').update(`job ${n}`).digest('hex');
  const ids = { done: hash(1), running: hash(2), queued: hash(3), failed: hash(4) };
  const list = async (query = '') => {
    const res = await call({ method: 'GET', url: `/admin/api/jobs${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { data: Array<Record<string, unknown>> }).data;
  };

  beforeAll(async () => {
    const keyId = ((await send('POST', '/admin/api/keys', { name: 'jobs-key' })).json() as { key: { id: string } }).key.id;
    const otherId = ((await send('POST', '/admin/api/keys', { name: 'jobs-other' })).json() as { key: { id: string } }).key.id;
    await insertJob(db, { idHash: ids.done, keyId, instanceId: INSTANCE, endpoint: 'generations', createdAt: 1_000 });
    await markJobRunning(db, ids.done, 1_500);
    await finishJob(db, ids.done, { status: 'succeeded', httpStatus: 200, errorCode: null, resultSealed: SEALED, finishedAt: 4_000, expiresAt: 3_604_000 });
    await insertJob(db, { idHash: ids.running, keyId, instanceId: INSTANCE, endpoint: 'edits', createdAt: 2_000 });
    await markJobRunning(db, ids.running, 2_100);
    await insertJob(db, { idHash: ids.queued, keyId: otherId, instanceId: INSTANCE, endpoint: 'generations', createdAt: 3_000 });
    await insertJob(db, { idHash: ids.failed, keyId: otherId, instanceId: INSTANCE, endpoint: 'generations', createdAt: 2_500 });
    await finishJob(db, ids.failed, {
      status: 'failed',
      httpStatus: 502,
      errorCode: 'upstream_exhausted',
      resultSealed: SEALED,
      finishedAt: 2_900,
      expiresAt: 9_000,
    });
  });

  it('lists jobs newest first with exactly the operator fields', async () => {
    const jobs = await list();
    expect(jobs.map((j) => j.id)).toEqual([ids.queued, ids.failed, ids.running, ids.done]);
    expect(Object.keys(jobs[0]!).sort()).toEqual([
      'cancel_requested',
      'created_at',
      'endpoint',
      'error_code',
      'expires_at',
      'finished_at',
      'http_status',
      'id',
      'instance_id',
      'key_id',
      'key_name',
      'started_at',
      'status',
    ]);
    expect(jobs[3]).toMatchObject({
      key_name: 'jobs-key',
      endpoint: 'generations',
      status: 'succeeded',
      http_status: 200,
      error_code: null,
      created_at: 1_000,
      started_at: 1_500,
      finished_at: 4_000,
      expires_at: 3_604_000,
      instance_id: INSTANCE,
      cancel_requested: false,
    });
    expect(jobs[1]).toMatchObject({ status: 'failed', error_code: 'upstream_exhausted', http_status: 502, key_name: 'jobs-other' });
  });

  it.each([
    ['?key=jobs-key', [hash(2), hash(1)]],
    ['?status=running', [hash(2)]],
    ['?key=jobs-other&status=queued', [hash(3)]],
    ['?limit=1', [hash(3)]],
    ['?status=&key=', [hash(3), hash(4), hash(2), hash(1)]],
  ])('filters %s', async (query, expected) => {
    expect((await list(query)).map((j) => j.id)).toEqual(expected);
  });

  it('filters by key id too', async () => {
    const keyId = (await call({ method: 'GET', url: '/admin/api/keys/jobs-other' })).json().id as string;
    expect((await list(`?key=${keyId}`)).map((j) => j.id)).toEqual([ids.queued, ids.failed]);
  });

  it.each([
    ['?status=done', 'invalid_request', 'status'],
    ['?limit=0', 'invalid_request', 'limit'],
    ['?limit=501', 'invalid_request', 'limit'],
    ['?limit=ten', 'invalid_request', 'limit'],
    ['?key=nobody', 'invalid_request', 'key'],
    ['?state=running', 'unknown_field', 'state'],
  ])('refuses %s', async (query, code, param) => {
    expectError(await call({ method: 'GET', url: `/admin/api/jobs${query}` }), 400, code, param);
  });

  it('shows one job by its id hash, or a unique prefix of 12+ characters in any case', async () => {
    for (const ref of [ids.running, ids.running.slice(0, 12), ids.running.slice(0, 20).toUpperCase()]) {
      const res = await call({ method: 'GET', url: `/admin/api/jobs/${ref}` });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id: ids.running, status: 'running', endpoint: 'edits', key_name: 'jobs-key' });
    }
  });

  it('refuses a short, malformed, unknown or ambiguous reference', async () => {
    expectError(await call({ method: 'GET', url: `/admin/api/jobs/${ids.running.slice(0, 11)}` }), 400, 'invalid_request', 'job');
    expectError(await call({ method: 'GET', url: '/admin/api/jobs/imgjob_notahash0000' }), 400, 'invalid_request', 'job');
    expectError(await call({ method: 'GET', url: `/admin/api/jobs/${'f'.repeat(64)}` }), 404, 'not_found', 'job');
    expectError(await call({ method: 'POST', url: `/admin/api/jobs/${'f'.repeat(12)}/cancel` }), 404, 'not_found', 'job');
    const twin = `${ids.done.slice(0, 12)}${'0'.repeat(52)}`;
    const keyId = (await call({ method: 'GET', url: '/admin/api/keys/jobs-key' })).json().id as string;
    await insertJob(db, { idHash: twin, keyId, instanceId: INSTANCE, endpoint: 'generations', createdAt: 500 });
    expectError(await call({ method: 'GET', url: `/admin/api/jobs/${ids.done.slice(0, 12)}` }), 400, 'invalid_request', 'job');
    expect((await call({ method: 'GET', url: `/admin/api/jobs/${ids.done.slice(0, 13)}` })).json().id).toBe(ids.done);
    await finishJob(db, twin, { status: 'cancelled', httpStatus: null, errorCode: null, resultSealed: null, finishedAt: 600, expiresAt: 700 });
  });

  it('cancel of an open job sets the flag for its instance and answers the job as it is now', async () => {
    const res = await call({ method: 'POST', url: `/admin/api/jobs/${ids.queued.slice(0, 16)}/cancel` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: ids.queued, status: 'queued', cancel_requested: true });
    expect((await readJob(db, ids.queued))?.cancelRequested).toBe(true);
  });

  it('cancel of a job that already ended changes nothing', async () => {
    const res = await call({ method: 'POST', url: `/admin/api/jobs/${ids.done}/cancel` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: ids.done, status: 'succeeded', cancel_requested: false });
    expect((await readJob(db, ids.done))?.cancelRequested).toBe(false);
  });

  it('no answer ever held a sealed result, in hex or base64', () => {
    const all = bodies.join('\n');
    for (const leak of [SEALED.toString('hex'), SEALED.toString('base64'), SEALED.toString('utf8')]) expect(all).not.toContain(leak);
    expect(all).not.toContain('"result');
  });
});

describe('instances (the registry of processes sharing the database)', () => {
  const beat = (over: Partial<InstanceBeat> & Pick<InstanceBeat, 'id' | 'role' | 'now'>) =>
    beatInstance(db, { version: '9.9.9', hostname: 'node-1', pid: 7, heartbeatMs: 1_000, listenUrl: null, adminUrl: null, statusUrl: null, ...over });

  it('lists live, dead and stopped processes with a live flag, in snake_case, by role then start', async () => {
    const now = Date.now();
    await beat({ id: 'inst_00000000000000c1', role: 'control', now, adminUrl: 'http://127.0.0.1:19083' });
    await beat({ id: 'inst_00000000000000a1', role: 'serve', now: now - 60_000, listenUrl: 'http://0.0.0.0:19082', statusUrl: 'http://node-1:19082' });
    await beat({ id: 'inst_00000000000000a1', role: 'serve', now, listenUrl: 'http://0.0.0.0:19082', statusUrl: 'http://node-1:19082' });
    // Silent one beat past the dead line: killed, never stopped.
    await beat({ id: 'inst_00000000000000a2', role: 'serve', now: now - 30_000 - (INSTANCE_DEAD_AFTER_BEATS * 1_000 + 1_000) });
    await beat({ id: 'inst_00000000000000a3', role: 'serve', now: now - 20_000 });
    await markInstanceStopped(db, 'inst_00000000000000a3', now - 10_000);
    const res = await call({ method: 'GET', url: '/admin/api/instances' });
    expect(res.statusCode, res.body).toBe(200);
    const data = (res.json() as { data: Array<Record<string, unknown>> }).data;
    expect(data.map((i) => [i.id, i.role, i.state, i.live])).toEqual([
      ['inst_00000000000000c1', 'control', 'live', true],
      ['inst_00000000000000a1', 'serve', 'live', true],
      ['inst_00000000000000a2', 'serve', 'dead', false],
      ['inst_00000000000000a3', 'serve', 'stopped', false],
    ]);
    expect(data[1]).toEqual({
      id: 'inst_00000000000000a1',
      role: 'serve',
      state: 'live',
      live: true,
      version: '9.9.9',
      hostname: 'node-1',
      pid: 7,
      listen_url: 'http://0.0.0.0:19082',
      admin_url: null,
      status_url: 'http://node-1:19082',
      heartbeat_ms: 1_000,
      started_at: now - 60_000,
      last_seen_at: now,
      stopped_at: null,
    });
  });
});
