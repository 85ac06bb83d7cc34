import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/control/api-key.js';
import type { ImageLogEvent } from '../../src/observe/image-log-event.js';
import type { DbQuerier } from '../../src/store/db.js';
import { HostedResults } from '../../src/store/hosted-results.js';
import { makePng } from '../support/images.js';
import { makeAccount, makeKey, makeSnapshot } from '../support/snapshot-fixtures.js';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';

const SECRET = 'cig_hosted-failure-secret';
const PNG_B64 = makePng(8, 8).toString('base64');
const UPSTREAM_BODY = JSON.stringify({ created: 1, data: [{ b64_json: PNG_B64 }], usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } });
const HOSTED_ENV = { RESULT_URL_MODE: 'hosted', PUBLIC_BASE_URL: 'https://images.example.com' };

/** A database that refuses every statement, as one that went away would. */
const brokenDb: DbQuerier = {
  query: () => Promise.reject(Object.assign(new Error('connection terminated'), { code: '57P01' })),
  exec: () => Promise.reject(new Error('connection terminated')),
};

const logLines: ImageLogEvent[] = [];
const snapshot = makeSnapshot([makeKey({ hash: hashApiKey(SECRET) })], [makeAccount('one')]);

function buildApp(env: Record<string, string>): Promise<FastifyInstance> {
  return buildTestGatewayApp(() => snapshot, {
    env,
    overrides: {
      upstream: {
        send: async () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(UPSTREAM_BODY)]), ttfbMs: 1 }),
        close: async () => undefined,
      },
      requestLog: { write: (event) => void logLines.push(event) },
      hostedResults: new HostedResults({ db: brokenDb, ttlMs: 60_000, now: Date.now }),
    },
  });
}

const generate = (app: FastifyInstance, body: Record<string, unknown>) =>
  app.inject({
    method: 'POST',
    url: '/v1/images/generations',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    payload: JSON.stringify({ prompt: 'a lighthouse', response_format: 'url', ...body }),
  });

describe('RESULT_URL_MODE=hosted when the image cannot be stored', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp(HOSTED_ENV);
  });
  afterAll(async () => app?.close());
  beforeEach(() => {
    logLines.length = 0;
  });

  it.each([
    ['one image (streamed through the tap)', {}],
    ['n: 2 (fan-out)', { n: 2 }],
  ])('%s: 500 result_store_failed, and no URL ever reaches the client', async (_name, body) => {
    const res = await generate(app, body);
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: {
        type: 'server_error',
        code: 'result_store_failed',
        param: null,
        message: 'the image was generated but could not be stored for its URL; retry the request',
      },
    });
    expect(res.body).not.toContain('images.example.com');
    expect(res.body).not.toContain(PNG_B64.slice(0, 20));
    expect(logLines.length).toBeGreaterThan(0);
  });

  it('the log line names the failure', async () => {
    await generate(app, {});
    expect(logLines.at(-1)).toMatchObject({ upstream_status: 200, error_class: 'result_store_failed' });
  });

  it('b64_json is served as ever: nothing is stored', async () => {
    const res = await generate(app, { response_format: 'b64_json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().data[0].b64_json).toBe(PNG_B64);
  });

  it('a result URL whose lookup fails is a 500, not a 404 that would claim it expired', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/images/results/imgres_${'A'.repeat(43)}` });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe('internal_error');
  });
});

describe('RESULT_URL_MODE=data (the default)', () => {
  it('answers data URLs and stores nothing, whatever the store', async () => {
    const app = await buildApp({});
    try {
      const res = await generate(app, {});
      expect(res.statusCode).toBe(200);
      expect(res.json().data[0].url).toBe(`data:image/png;base64,${PNG_B64}`);
    } finally {
      await app.close();
    }
  });
});
