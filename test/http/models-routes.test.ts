import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { hashApiKey } from '../../src/control/api-key.js';
import { MODEL_OWNER } from '../../src/http/models-routes.js';
import { MODELS_PATHS } from '../../src/images/endpoint-aliases.js';
import { DEFAULT_MODEL_ALIASES } from '../../src/images/model-aliases.js';
import type { ModelAliasRecord, Snapshot } from '../../src/store/types.js';
import { makeKey, makeSnapshot } from '../support/snapshot-fixtures.js';

const SECRETS = { active: 'cig_active', imageOff: 'cig_image_off', disabled: 'cig_disabled', overQuota: 'cig_over_quota' };
const ALIAS_CREATED_MS = 1_700_000_000_123;
const row = (alias: string, upstreamModel = 'gpt-image-2'): ModelAliasRecord => ({
  alias,
  upstreamModel,
  createdAt: ALIAS_CREATED_MS,
  updatedAt: ALIAS_CREATED_MS,
});

let snapshot: Snapshot;
let app: FastifyInstance;

beforeAll(async () => {
  const keys = [
    makeKey({ id: 'key_a', hash: hashApiKey(SECRETS.active) }),
    makeKey({ id: 'key_b', hash: hashApiKey(SECRETS.imageOff), imageEnabled: false }),
    makeKey({ id: 'key_c', hash: hashApiKey(SECRETS.disabled), status: 'disabled' }),
    makeKey({ id: 'key_d', hash: hashApiKey(SECRETS.overQuota), quotaTokens: 0 }),
  ];
  snapshot = {
    ...makeSnapshot(keys, []),
    modelAliases: [...DEFAULT_MODEL_ALIASES.map((r) => row(r.alias)), row('ft:gpt-4o:org:x'), row('openai/dall-e-3'), row('my.model_v1')],
  };
  app = await buildTestGatewayApp(() => snapshot, { env: { ALLOWED_MODELS: 'gpt-image-2,gpt-image-1.5' } });
});

afterAll(async () => app?.close());

const get = (url: string, secret: string | null = SECRETS.active, extra: Partial<InjectOptions> = {}) =>
  app.inject({ method: 'GET', url, headers: secret ? { authorization: `Bearer ${secret}` } : {}, ...extra });

const EXPECTED_IDS = [
  'gpt-image-2',
  'gpt-image-1.5',
  'gpt-image-1',
  'gpt-image-1-mini',
  'chatgpt-image-latest',
  'dall-e-2',
  'dall-e-3',
  'ft:gpt-4o:org:x',
  'openai/dall-e-3',
  'my.model_v1',
];

describe('GET /v1/models (and its aliases)', () => {
  it.each(MODELS_PATHS)('%s lists served models, then exact aliases, in the OpenAI shape', async (path) => {
    const res = await get(path);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    const body = res.json() as { object: string; data: Array<Record<string, unknown>> };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual(EXPECTED_IDS);
    expect(body.data[0]).toEqual({ id: 'gpt-image-2', object: 'model', created: 0, owned_by: MODEL_OWNER });
    expect(body.data.find((m) => m.id === 'dall-e-3')).toEqual({
      id: 'dall-e-3',
      object: 'model',
      created: Math.floor(ALIAS_CREATED_MS / 1000),
      owned_by: 'codex-image-gateway',
    });
  });

  it('the paths are the four public API bases + /models', () => {
    expect(MODELS_PATHS).toEqual(['/v1/models', '/api/codex-gateway/models', '/api/codex-gateway/v1/models', '/api/llm-gateway/v1/models']);
  });

  it('follows the snapshot: a reload with other rows changes the list at once', async () => {
    const before = snapshot;
    snapshot = { ...before, modelAliases: [row('only-this')] };
    try {
      expect((await get('/v1/models')).json().data.map((m: { id: string }) => m.id)).toEqual(['gpt-image-2', 'gpt-image-1.5', 'only-this']);
    } finally {
      snapshot = before;
    }
  });

  it('HEAD answers like GET without a body', async () => {
    const res = await app.inject({ method: 'HEAD', url: '/v1/models', headers: { authorization: `Bearer ${SECRETS.active}` } });
    expect([res.statusCode, res.body]).toEqual([200, '']);
  });
});

describe('GET /v1/models/{id}', () => {
  it.each(EXPECTED_IDS)('answers the model object for %s', async (id) => {
    for (const base of MODELS_PATHS) {
      const res = await get(`${base}/${encodeURIComponent(id)}`);
      expect(res.statusCode, `${base} ${res.body}`).toBe(200);
      expect(res.json()).toMatchObject({ id, object: 'model', owned_by: MODEL_OWNER });
    }
  });

  it('takes ids with a raw `/` and a raw `:` too', async () => {
    expect((await get('/v1/models/openai/dall-e-3')).json()).toMatchObject({ id: 'openai/dall-e-3' });
    expect((await get('/v1/models/ft:gpt-4o:org:x')).json()).toMatchObject({ id: 'ft:gpt-4o:org:x' });
  });

  it.each(['gpt-image-*', 'gpt-image-2-2026-04-21', 'GPT-IMAGE-1', 'dall-e-3 ', 'nope', 'x'.repeat(500)])(
    '404 model_not_found for %j (patterns and unlisted names)',
    async (id) => {
      const res = await get(`/v1/models/${encodeURIComponent(id)}`);
      expect(res.statusCode).toBe(404);
      const error = res.json().error as Record<string, unknown>;
      expect(error).toMatchObject({ code: 'model_not_found', type: 'invalid_request_error', param: 'model' });
      expect(String(error.message).length).toBeLessThan(140);
      expect(res.headers['x-should-retry']).toBe('false');
    },
  );
});

describe('authentication: a gateway key, checked like the image paths', () => {
  it.each([
    ['no bearer', null, 401, 'missing_bearer'],
    ['an unknown key', 'cig_unknown', 401, 'invalid_api_key'],
    ['a disabled key', SECRETS.disabled, 403, 'key_disabled'],
  ])('%s → %i %s, on the list and on one model', async (_label, secret, status, code) => {
    for (const url of ['/v1/models', '/v1/models/dall-e-3', '/api/llm-gateway/v1/models/nope']) {
      const res = await get(url, secret);
      expect(res.statusCode, url).toBe(status);
      expect(res.json().error.code).toBe(code);
    }
  });

  it('a key with the image switch off, or over its quota, may still list (listing costs nothing)', async () => {
    expect((await get('/v1/models', SECRETS.imageOff)).statusCode).toBe(200);
    expect((await get('/v1/models/dall-e-3', SECRETS.overQuota)).statusCode).toBe(200);
  });

  it('before the first snapshot: 503 not_ready', async () => {
    const loaded = snapshot;
    snapshot = null as unknown as Snapshot;
    try {
      expect((await get('/v1/models')).json().error.code).toBe('not_ready');
    } finally {
      snapshot = loaded;
    }
  });
});

describe('methods and near-miss paths', () => {
  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const)('%s → 405 with allow: GET, HEAD, before auth', async (method) => {
    for (const url of ['/v1/models', '/v1/models/dall-e-3']) {
      const res = await app.inject({ method, url, payload: method === 'OPTIONS' ? undefined : '{}', headers: { 'content-type': 'application/json' } });
      expect(res.statusCode, `${method} ${url}`).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(res.json().error.code).toBe('method_not_allowed');
    }
  });

  it.each(['/V1/models', '/v1/model', '/v1/models-x', '/api/llm-gateway/models'])('%s is unsupported_path', async (url) => {
    const res = await get(url);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('unsupported_path');
  });

  it('a trailing slash is not the list (exact paths, as for the image paths)', async () => {
    const res = await get('/v1/models/');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('unsupported_path');
  });
});
