import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminApp } from '../../src/admin/admin-app.js';
import type { ControlApi } from '../../src/control/control-api.js';
import { combineStatusReaders, createLocalStatusReader, createRemoteStatusReader } from '../../src/control/gateway-status.js';
import { listConfiguredTargets } from '../../src/control/status-targets.js';
import type { DataPlaneStatusSource } from '../../src/control/data-plane-status.js';
import { registerStatusRoutes } from '../../src/http/status-routes.js';
import { createActivityBuffer } from '../../src/observe/activity-buffer.js';
import type { ImageLogEvent } from '../../src/observe/image-log-event.js';
import { makeLogEvent } from '../support/log-events.js';

const TOKEN = 'activity-test-admin-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const NOW = Date.now(); // the overview route reads the real clock

const sourceOf = (events: ImageLogEvent[]): DataPlaneStatusSource => {
  const buffer = createActivityBuffer(100);
  for (const e of events) buffer.write(e);
  return { read: async () => ({ generatedAt: NOW, accounts: [] }), clearCooldown: async () => false, activity: () => buffer.list() };
};

let remoteGateway: FastifyInstance;
let admin: FastifyInstance;
let remoteUrl: string;

beforeAll(async () => {
  // A `serve` data plane's status routes, reached over real HTTP on loopback.
  remoteGateway = Fastify();
  registerStatusRoutes(
    remoteGateway,
    sourceOf([
      makeLogEvent({ request_id: 'remote-1', ts: NOW - 30_000, account_name: 'acct-r', upstream_status: 429, error_class: 'rate_limited' }),
      makeLogEvent({ request_id: 'remote-1', ts: NOW - 30_000, account_name: 'acct-s' }), // written second: the final line
    ]),
    TOKEN,
  );
  remoteUrl = await remoteGateway.listen({ host: '127.0.0.1', port: 0 });
  const local = sourceOf([
    makeLogEvent({ request_id: 'local-1', ts: NOW - 90_000, key_name: 'beta' }),
    makeLogEvent({ request_id: 'local-2', ts: NOW - 10_000 }),
  ]);
  const status = combineStatusReaders([
    createLocalStatusReader(local, 'inst_00000000000000aa'),
    createRemoteStatusReader({ targets: listConfiguredTargets([remoteUrl, 'http://127.0.0.1:9']), adminToken: TOKEN, timeoutMs: 1_000 }),
  ]);
  admin = buildAdminApp({ control: {} as ControlApi, adminToken: TOKEN, gatewayStatus: status });
  await admin.ready();
});

afterAll(async () => {
  await admin?.close();
  await remoteGateway?.close();
});

const get = (url: string) => admin.inject({ method: 'GET', url, headers: AUTH });
const requestIds = (body: unknown) => (body as { data: ImageLogEvent[] }).data.map((e) => e.request_id);

describe('GET /status/activity on the data plane', () => {
  it('needs the admin token', async () => {
    expect((await fetch(`${remoteUrl}/status/activity`)).status).toBe(401);
    const res = await fetch(`${remoteUrl}/status/activity`, { headers: AUTH });
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(2);
  });
});

describe('GET /admin/api/activity', () => {
  it.each([
    { query: '', expected: ['local-2', 'remote-1', 'remote-1', 'local-1'] },
    { query: '?limit=2', expected: ['local-2', 'remote-1'] },
    { query: '?key=beta', expected: ['local-1'] },
    { query: '?account=acct-r', expected: ['remote-1'] },
    { query: '?status=failure', expected: ['remote-1'] },
    { query: '?error_class=rate_limited', expected: ['remote-1'] },
    { query: '?status=success&key=', expected: ['local-2', 'remote-1', 'local-1'] },
  ])('$query merges local and remote gateways, newest first → $expected', async ({ query, expected }) => {
    const res = await get(`/admin/api/activity${query}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(requestIds(res.json())).toEqual(expected);
  });

  it.each(['limit=0', 'limit=2001', 'limit=1.5', 'limit=abc'])('refuses %s, in the words every range check uses', async (q) => {
    const res = await get(`/admin/api/activity?${q}`);
    expect(res.statusCode).toBe(400);
    expect((res.json() as { error: { param: string; message: string } }).error).toMatchObject({
      param: 'limit',
      message: 'limit must be an integer between 1 and 2000',
    });
  });

  it('the detail lists the lines of one request (its attempts) and 404s an unknown one', async () => {
    const res = await get('/admin/api/activity/remote-1');
    expect(res.json()).toMatchObject({ request_id: 'remote-1', data: [{ account_name: 'acct-r' }, { account_name: 'acct-s' }] });
    expect((await get('/admin/api/activity/nope')).statusCode).toBe(404);
  });
});

describe('GET /admin/api/overview', () => {
  it('answers per-minute series over every gateway', async () => {
    const res = await get('/admin/api/overview?minutes=5');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { minutes: number; series: Array<Record<string, unknown>>; totals: Record<string, number>; accounts: unknown[] };
    expect(body.minutes).toBe(5);
    expect(body.series).toHaveLength(5);
    expect(Object.keys(body.series[0]!).sort()).toEqual([
      'failures',
      'failures_by_class',
      'images',
      'latency_p50_ms',
      'latency_p95_ms',
      'minute',
      'requests',
      'successes',
    ]);
    expect(body.totals).toEqual({ requests: 3, images: 3, successes: 3, failures: 0 }); // remote-1 ended in success
    expect(body.accounts).toEqual([
      { account: 'acct-a', attempts: 2, failures: 0 },
      { account: 'acct-r', attempts: 1, failures: 1 },
      { account: 'acct-s', attempts: 1, failures: 0 },
    ]);
  });

  it.each(['minutes=0', 'minutes=1441', 'minutes=x'])('refuses %s', async (q) => {
    const res = await get(`/admin/api/overview?${q}`);
    expect(res.statusCode).toBe(400);
    expect((res.json() as { error: { message: string } }).error.message).toBe('minutes must be an integer between 1 and 1440');
  });

  it('answers the default window without `minutes`', async () => {
    expect((await get('/admin/api/overview')).json()).toMatchObject({ minutes: 60 });
  });
});

describe('how many data planes were read (sources) and which answered (gateways)', () => {
  it('counts the local and the configured remote data planes, reachable or not, and names the one that did not answer', async () => {
    const gateways = [
      { gateway: 'local', instance_id: 'inst_00000000000000aa', ok: true, error: null },
      { gateway: remoteUrl, instance_id: null, ok: true, error: null },
      { gateway: 'http://127.0.0.1:9', instance_id: null, ok: false, error: expect.stringMatching(/^status endpoint unreachable/) },
    ];
    expect((await get('/admin/api/activity')).json()).toMatchObject({ sources: 3, gateways });
    expect((await get('/admin/api/overview')).json()).toMatchObject({ sources: 3, gateways });
  });

  it('says 0 for a control plane with no GATEWAY_STATUS_URLS, so the console can say why it is empty', async () => {
    const bare = buildAdminApp({
      control: {} as ControlApi,
      adminToken: TOKEN,
      gatewayStatus: createRemoteStatusReader({ targets: listConfiguredTargets([]), adminToken: TOKEN }),
    });
    try {
      const activity = await bare.inject({ method: 'GET', url: '/admin/api/activity', headers: AUTH });
      expect(activity.json()).toEqual({ data: [], sources: 0, gateways: [] });
      expect((await bare.inject({ method: 'GET', url: '/admin/api/overview', headers: AUTH })).json()).toMatchObject({ sources: 0 });
    } finally {
      await bare.close();
    }
  });
});
