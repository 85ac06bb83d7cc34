import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminApp } from '../../src/admin/admin-app.js';
import { createAdminClient, parseAdminErrorBody } from '../../src/control/admin-client.js';
import type { ControlApi } from '../../src/control/control-api.js';
import { createControlServices } from '../../src/control/control-services.js';
import { createCredentialCipher } from '../../src/control/credential-cipher.js';
import { isGatewayError } from '../../src/errors/codes.js';
import type { Db } from '../../src/store/db.js';
import { insertJob, markJobRunning, readJob } from '../../src/store/job-repo.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { openMigratedPglite } from '../support/pglite-template.js';

const ADMIN_TOKEN = 'client-test-admin-token';

let dir: string;
let db: Db;
let app: FastifyInstance;
let direct: ControlApi;
let client: ControlApi;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-admin-client-'));
  db = await openMigratedPglite(join(dir, 'pglite'));
  direct = createControlServices({ db, cipher: createCredentialCipher(randomBytes(32)) });
  app = buildAdminApp({ control: direct, adminToken: ADMIN_TOKEN });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  client = createAdminClient({ baseUrl: `${address}/`, token: ADMIN_TOKEN });
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

async function caught(p: Promise<unknown>): Promise<{ code: string; message: string; param: string | null }> {
  try {
    await p;
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, message: err.message, param: err.param };
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('createAdminClient round trips', () => {
  it('keys: create returns the secret, then get/list/update/delete match the service', async () => {
    const created = await client.keys.create({ name: 'via-client', maxConcurrency: 3, routing: { mode: 'all' } });
    expect(created.secret).toMatch(/^cig_/);
    expect(created.key).toMatchObject({ name: 'via-client', maxConcurrency: 3, imageEnabled: true });
    expect(await client.keys.get('via-client')).toEqual(await direct.keys.get('via-client'));
    expect(await client.keys.list()).toEqual(await direct.keys.list());
    const updated = await client.keys.update(created.key.id, { maxConcurrency: null, minStartIntervalMs: 100 });
    expect(updated).toMatchObject({ maxConcurrency: null, minStartIntervalMs: 100 });
    await expect(client.keys.delete('via-client')).resolves.toBeUndefined();
    expect(await direct.keys.list()).toEqual([]);
  });

  it('accounts: the auth JSON travels untouched (camelCase keys inside it included)', async () => {
    const auth = makeCodexAuthJson({ accountId: 'acct-c', email: 'c@example.com' });
    const flat = { accessToken: auth.tokens.access_token, refreshToken: auth.tokens.refresh_token, accountId: 'acct-flat-c' };
    const account = await client.accounts.import({ auth: flat, name: 'flat-c', imageConcurrency: 5 });
    expect(account).toMatchObject({
      name: 'flat-c',
      chatgptAccountId: 'acct-flat-c',
      imageConcurrency: 5,
      imageEnabled: true,
      outcome: 'created',
      changed: [],
    });
    const fromText = await client.accounts.import({ auth: JSON.stringify(auth) });
    expect(fromText).toMatchObject({ name: 'c@example.com', outcome: 'created' });
    expect(await client.accounts.import({ auth: JSON.stringify(auth) })).toMatchObject({ name: 'c@example.com', outcome: 'updated', changed: [] });
    expect(await client.accounts.update('flat-c', { proxyUrl: 'socks5://127.0.0.1:1080', imageEnabled: false })).toMatchObject({
      proxy: 'socks5://127.0.0.1:1080',
      imageEnabled: false,
    });
    expect(await client.accounts.list()).toEqual(await direct.accounts.list());
  });

  it('groups, settings and usage', async () => {
    const group = await client.groups.create({ name: 'g1', accounts: ['flat-c'] });
    expect(group.accounts).toEqual(['flat-c']);
    expect(await client.groups.update('g1', { name: 'g2' })).toMatchObject({ name: 'g2' });
    expect(await client.groups.get('g2')).toEqual(await direct.groups.get('g2'));
    await client.groups.delete('g2');
    expect(await client.groups.list()).toEqual([]);
    const settings = await client.settings.update({ logMaxFiles: 9 });
    expect(settings).toEqual({ ...(await direct.settings.get()), logMaxFiles: 9 });
    expect(await client.usage.summary()).toEqual(await direct.usage.summary());
  });

  it('model aliases: set (an alias with `/`, `:` and `*`), list, remove, reset match the service', async () => {
    for (const alias of ['openai/dall-e-3', 'ft:gpt-4o:org:x', 'team-*']) {
      expect(await client.modelAliases.set(alias, { upstreamModel: 'gpt-image-1.5' })).toMatchObject({ alias, upstreamModel: 'gpt-image-1.5' });
    }
    expect(await client.modelAliases.list()).toEqual(await direct.modelAliases.list());
    await expect(client.modelAliases.remove('openai/dall-e-3')).resolves.toBeUndefined();
    expect((await direct.modelAliases.list()).map((v) => v.alias)).not.toContain('openai/dall-e-3');
    const reset = await client.modelAliases.reset();
    expect(reset).toEqual(await direct.modelAliases.list());
    expect(reset.map((v) => v.alias)).not.toContain('team-*');
  });

  it('jobs: list (with a filter), show by prefix and cancel match the service', async () => {
    const key = await direct.keys.create({ name: 'job-owner' });
    const idHash = 'ab'.repeat(32);
    await insertJob(db, { idHash, keyId: key.key.id, instanceId: 'inst_0123abcd', endpoint: 'edits', createdAt: 5_000 });
    await markJobRunning(db, idHash, 5_100);
    expect(await client.jobs.list({ key: 'job-owner', status: 'running', limit: 5 })).toEqual(
      await direct.jobs.list({ key: 'job-owner', status: 'running', limit: 5 }),
    );
    expect((await client.jobs.list()).map((j) => j.id)).toEqual([idHash]);
    expect(await client.jobs.show(idHash.slice(0, 12))).toEqual(await direct.jobs.show(idHash));
    expect(await client.jobs.cancel(idHash.slice(0, 14))).toMatchObject({ id: idHash, status: 'running', cancelRequested: true, keyName: 'job-owner' });
    expect((await readJob(db, idHash))?.cancelRequested).toBe(true);
  });
});

describe('errors come back as the service threw them', () => {
  const FAILURES: Array<[string, (api: ControlApi) => Promise<unknown>]> = [
    ['max_concurrency out of range', (api) => api.keys.create({ name: 'bad', maxConcurrency: 0 })],
    ['missing name', (api) => api.keys.create({ name: '' })],
    ['unknown routing account', (api) => api.keys.create({ name: 'r', routing: { mode: 'accounts', accounts: ['ghost'] } })],
    ['unknown key', (api) => api.keys.get('ghost')],
    ['unknown key delete', (api) => api.keys.delete('ghost')],
    ['image_concurrency out of range', (api) => api.accounts.update('flat-c', { imageConcurrency: 1025 })],
    ['auth without token', (api) => api.accounts.import({ auth: { tokens: {} } })],
    ['auth with an opaque token', (api) => api.accounts.import({ auth: { tokens: { access_token: 'not-a-jwt', refresh_token: 'rt' } } })],
    ['unknown group member', (api) => api.groups.create({ name: 'g', accounts: ['ghost'] })],
    ['bad setting', (api) => api.settings.update({ logMaxFiles: 0 })],
    ['bad strict switch', (api) => api.settings.update({ modelAliasesStrict: 'yes' as unknown as boolean })],
    ['bad model alias', (api) => api.modelAliases.set('a b', { upstreamModel: 'gpt-image-2' })],
    ['bad upstream model', (api) => api.modelAliases.set('ok', { upstreamModel: 'x*' })],
    ['unknown model alias', (api) => api.modelAliases.remove('ghost-model')],
    ['short job id', (api) => api.jobs.show('abc')],
    ['unknown job', (api) => api.jobs.cancel('0'.repeat(12))],
    ['bad job status filter', (api) => api.jobs.list({ status: 'done' as never })],
    ['job limit out of range', (api) => api.jobs.list({ limit: 501 })],
    ['unknown job key filter', (api) => api.jobs.list({ key: 'ghost' })],
  ];

  it.each(FAILURES)('%s: same code, message and param both ways', async (_label, run) => {
    const viaService = await caught(run(direct));
    expect(await caught(run(client))).toEqual(viaService);
  });

  it('a duplicate name is the same conflict both ways', async () => {
    await direct.keys.create({ name: 'dup' });
    const viaService = await caught(direct.keys.create({ name: 'dup' }));
    expect(viaService.code).toBe('conflict');
    expect(await caught(client.keys.create({ name: 'dup' }))).toEqual(viaService);
  });

  it('a wrong token is admin_unauthorized', async () => {
    const wrong = createAdminClient({ baseUrl: app.listeningOrigin, token: 'nope' });
    expect(await caught(wrong.keys.list())).toMatchObject({ code: 'admin_unauthorized' });
  });

  it('an unreachable instance is one clear error naming the URL', async () => {
    const gone = createAdminClient({ baseUrl: 'http://127.0.0.1:9', token: ADMIN_TOKEN });
    const err = await caught(gone.keys.list());
    expect(err.code).toBe('not_ready');
    expect(err.message).toContain('http://127.0.0.1:9');
  });

  it('a non-JSON error body becomes internal_error with the status', async () => {
    const fetchImpl = (async () => new Response('<html>bad gateway</html>', { status: 502 })) as typeof fetch;
    const odd = createAdminClient({ baseUrl: 'http://127.0.0.1:1', token: 't', fetchImpl });
    expect(await caught(odd.keys.list())).toEqual({ code: 'internal_error', message: 'admin API answered HTTP 502 without an error body', param: null });
  });
});

describe('parseAdminErrorBody', () => {
  it.each([
    [{ error: { code: 'not_found', message: 'key not found', param: 'key', type: 'not_found_error' } }, 'not_found', 'key'],
    [{ error: { code: 'invalid_request', message: 'm', param: null, type: 'invalid_request_error' } }, 'invalid_request', null],
  ])('keeps known codes: %j', (body, code, param) => {
    expect(parseAdminErrorBody(400, body)).toMatchObject({ code, param });
  });

  it.each([null, {}, { error: 'x' }, { error: { code: 'made_up', message: 'm' } }, { error: { code: 'not_found' } }])(
    'maps anything else to internal_error: %j',
    (body) => expect(parseAdminErrorBody(500, body).code).toBe('internal_error'),
  );
});
