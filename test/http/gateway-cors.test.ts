import { Readable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { hashApiKey } from '../../src/control/api-key.js';
import { CORS_ALLOWED_METHODS, CORS_EXPOSED_HEADERS, CORS_PREFLIGHT_MAX_AGE_S } from '../../src/http/cors.js';
import { ENDPOINT_ALIASES } from '../../src/images/endpoint-aliases.js';
import { createGatewayMetrics } from '../../src/observe/gateway-metrics.js';
import type { Snapshot } from '../../src/store/types.js';
import { makeAccount, makeKey, makeSnapshot } from '../support/snapshot-fixtures.js';

const SECRET = 'cig_cors-test-secret';
const APP_ORIGIN = 'https://app.example.com';
const OTHER_ORIGIN = 'https://evil.example.net';
const PUBLIC_PATHS = [...Object.keys(ENDPOINT_ALIASES), '/v1/models', '/v1/models/gpt-image-1'];
const UPSTREAM_BODY = JSON.stringify({ created: 1, data: [{ b64_json: 'aGk=' }], usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } });

let app: FastifyInstance;
let snapshot: Snapshot;
let upstreamCalls = 0;
/** Image requests the app counted in its metrics (a preflight must never be one). */
const counted: unknown[] = [];

const withOrigins = (origins: string[]): void => {
  snapshot = { ...snapshot, settings: { ...snapshot.settings, corsAllowedOrigins: origins } };
};

const accessControlHeaders = (res: LightMyRequestResponse): string[] => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));

const preflight = (url: string, origin: string, requestHeaders = 'authorization, content-type'): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders } });

const generate = (headers: InjectOptions['headers']): Promise<LightMyRequestResponse> =>
  app.inject({
    method: 'POST',
    url: '/v1/images/generations',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}`, ...headers },
    payload: JSON.stringify({ prompt: 'a lighthouse' }),
  });

function expectReadableBy(res: LightMyRequestResponse, allowOrigin: string): void {
  expect(res.headers['access-control-allow-origin']).toBe(allowOrigin);
  expect(String(res.headers['access-control-expose-headers']).split(', ')).toEqual([...CORS_EXPOSED_HEADERS]);
  expect(res.headers.vary).toBe('Origin');
  expect(res.headers['access-control-allow-credentials']).toBeUndefined();
}

beforeAll(async () => {
  const metrics = createGatewayMetrics();
  app = await buildTestGatewayApp(() => snapshot, {
    overrides: {
      upstream: {
        send: async () => {
          upstreamCalls += 1;
          return { status: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(UPSTREAM_BODY)]), ttfbMs: 1 };
        },
        close: async () => undefined,
      },
      metrics: { ...metrics, requests: { inc: (labels) => counted.push(labels) } },
    },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
});

beforeEach(() => {
  snapshot = makeSnapshot([makeKey({ hash: hashApiKey(SECRET) })], [makeAccount('one')]);
  upstreamCalls = 0;
  counted.length = 0;
});

describe('CORS off (the default: no origins)', () => {
  it('leaves every answer as before: a preflight on an image path is 405, no access-control header anywhere', async () => {
    expect(snapshot.settings.corsAllowedOrigins).toEqual([]);
    const pre = await preflight('/v1/images/generations', APP_ORIGIN);
    expect(pre.statusCode).toBe(405);
    expect(accessControlHeaders(pre)).toEqual([]);
    const res = await generate({ origin: APP_ORIGIN });
    expect(res.statusCode, res.body).toBe(200);
    expect(accessControlHeaders(res)).toEqual([]);
    expect(res.headers.vary).toBeUndefined();
  });
});

describe('CORS with an allowed origin', () => {
  beforeEach(() => withOrigins([APP_ORIGIN]));

  it.each(PUBLIC_PATHS)('answers a preflight on %s with 204 and the allow headers, without a key', async (path) => {
    const res = await preflight(path, APP_ORIGIN, 'Authorization, content-type, x-stainless-os, X-Stainless-Retry-Count, x-evil, openai-project');
    expect(res.statusCode, res.body).toBe(204);
    expect(res.body).toBe('');
    expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(res.headers['access-control-allow-methods']).toBe(CORS_ALLOWED_METHODS.join(', '));
    // Echoed (lower-cased) except the one that is not allowed.
    expect(res.headers['access-control-allow-headers']).toBe('authorization, content-type, x-stainless-os, x-stainless-retry-count, openai-project');
    expect(res.headers['access-control-max-age']).toBe(String(CORS_PREFLIGHT_MAX_AGE_S));
    expect(res.headers.vary).toBe('Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    // Not an image request: no 405 and nothing counted for it (a success of an earlier test may land late).
    expect(counted.filter((labels) => (labels as { status: number }).status !== 200)).toEqual([]);
  });

  it('omits access-control-allow-headers when the preflight asks for none, or only for refused ones', async () => {
    for (const requested of ['', 'x-evil, cookie, x-stainless-']) {
      const res = await preflight('/v1/images/edits', APP_ORIGIN, requested);
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-headers']).toBeUndefined();
      expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    }
  });

  it('lets the page read a successful generation and its headers', async () => {
    const res = await generate({ origin: APP_ORIGIN });
    expect(res.statusCode, res.body).toBe(200);
    expect(upstreamCalls).toBe(1);
    expectReadableBy(res, APP_ORIGIN);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
  });

  it.each([
    ['a wrong key (401)', { authorization: 'Bearer cig_wrong' }, 401],
    ['no key (401)', { authorization: '' }, 401],
    ['a wrong content type (415)', { 'content-type': 'text/plain' }, 415],
  ])('lets the page read the error for %s', async (_label, headers, status) => {
    const res = await generate({ origin: APP_ORIGIN, ...headers });
    expect(res.statusCode, res.body).toBe(status);
    expectReadableBy(res, APP_ORIGIN);
    expect(res.json()).toMatchObject({ error: { type: expect.any(String) } });
  });

  it('lets the page read a 404 and the 405 of a plain OPTIONS (no Access-Control-Request-Method)', async () => {
    const missing = await app.inject({ method: 'GET', url: '/v1/nothing-here', headers: { origin: APP_ORIGIN } });
    expect(missing.statusCode).toBe(404);
    expectReadableBy(missing, APP_ORIGIN);
    const plain = await app.inject({ method: 'OPTIONS', url: '/v1/images/generations', headers: { origin: APP_ORIGIN } });
    expect(plain.statusCode).toBe(405);
    expectReadableBy(plain, APP_ORIGIN);
    const bare = await app.inject({ method: 'OPTIONS', url: '/v1/images/generations' });
    expect(bare.statusCode).toBe(405);
    expect(accessControlHeaders(bare)).toEqual([]);
  });

  it('gives a refused origin no access-control header: its preflight is a bare 204, its request is served unreadable', async () => {
    const pre = await preflight('/v1/images/generations', OTHER_ORIGIN);
    expect(pre.statusCode).toBe(204);
    expect(accessControlHeaders(pre)).toEqual([]);
    expect(pre.headers.vary).toContain('Origin');
    for (const origin of [OTHER_ORIGIN, 'null', 'https://APP.example.com', `${APP_ORIGIN}:443`]) {
      const res = await generate({ origin });
      expect(res.statusCode).toBe(200);
      expect(accessControlHeaders(res), origin).toEqual([]);
      expect(res.headers.vary).toBe('Origin');
    }
    expect(upstreamCalls).toBe(4);
  });

  it('never applies to probes, metrics or the status API', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/status', '/status/activity', '/metrics?x=1']) {
      const get = await app.inject({ method: 'GET', url, headers: { origin: APP_ORIGIN } });
      expect(accessControlHeaders(get), url).toEqual([]);
      expect(get.headers.vary, url).toBeUndefined();
      const pre = await preflight(url, APP_ORIGIN);
      expect(pre.statusCode, url).not.toBe(204);
      expect(accessControlHeaders(pre), url).toEqual([]);
    }
  });

  it('follows the snapshot: a change of the setting applies to the next request', async () => {
    expect((await preflight('/v1/images/generations', APP_ORIGIN)).headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    withOrigins([OTHER_ORIGIN]);
    expect(accessControlHeaders(await preflight('/v1/images/generations', APP_ORIGIN))).toEqual([]);
    withOrigins([]);
    expect((await preflight('/v1/images/generations', APP_ORIGIN)).statusCode).toBe(405);
  });
});

describe("CORS with '*'", () => {
  beforeEach(() => withOrigins(['*']));

  it('answers any origin with access-control-allow-origin: *', async () => {
    const pre = await preflight('/v1/images/generations', OTHER_ORIGIN);
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    const res = await generate({ origin: 'null' });
    expect(res.statusCode).toBe(200);
    expectReadableBy(res, '*');
  });

  it('sends nothing but vary to a request without Origin (not a cross-origin call)', async () => {
    const res = await generate({});
    expect(res.statusCode).toBe(200);
    expect(accessControlHeaders(res)).toEqual([]);
    expect(res.headers.vary).toBe('Origin');
  });
});
