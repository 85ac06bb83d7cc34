import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FIELDS } from '../../src/config/fields.js';
import { ENDPOINT_ALIASES, MODELS_PATHS, RESULTS_PATHS } from '../../src/images/endpoint-aliases.js';
import { REPO_ROOT } from '../support/cli-process.js';
import { fakeBehaviors, startFakeCodexUpstream } from '../support/fake-codex-upstream.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { findSystemTool } from '../support/system-tool.js';
import { SHIPPED_CADDYFILE, SHIPPED_UPSTREAM, startCaddy, type RunningCaddy } from '../support/caddy.js';

const CADDYFILE_PATH = join(REPO_ROOT, 'deploy', 'Caddyfile');
const CADDYFILE = SHIPPED_CADDYFILE;
/** The Caddyfile without comment lines (the commented admin site must not count). */
const ACTIVE = CADDYFILE.split('\n')
  .filter((l) => !l.trim().startsWith('#'))
  .join('\n');
const FIFTEEN_MIN_MS = 15 * 60_000;

/** Caddy durations: 30s, 15m, 1h, 1h30m, 500ms. */
function parseDurationMs(text: string): number {
  const units = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
  const parts = [...text.matchAll(/(\d+)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2] as keyof typeof units], 0);
}

/** The value of the one active `name value` line. */
function directive(name: string): string {
  const hits = [...ACTIVE.matchAll(new RegExp(`^\\s*${name}\\s+(.+?)\\s*$`, 'gm'))];
  expect(hits, name).toHaveLength(1);
  return hits[0]![1]!;
}

describe('deploy/Caddyfile, as written', () => {
  it('routes exactly the eight image paths, the model-list paths and the result paths of src/images/endpoint-aliases.ts', () => {
    const paths = directive('@codex_image path').split(/\s+/);
    const expected = [...Object.keys(ENDPOINT_ALIASES), ...MODELS_PATHS, ...MODELS_PATHS.map((p) => `${p}/*`), ...RESULTS_PATHS.map((p) => `${p}/*`)];
    expect([...paths].sort()).toEqual(expected.sort());
    expect(new Set(paths).size).toBe(paths.length);
  });

  it('matches the image paths first, inside an ordered route block, and proxies nothing else to the data plane', () => {
    const handles = [...ACTIVE.matchAll(/^\s*handle\b(.*)\{\s*$/gm)].map((m) => m[1]!.trim());
    expect(handles[0]).toBe('@codex_image');
    expect(ACTIVE.indexOf('route {')).toBeLessThan(ACTIVE.indexOf('handle @codex_image'));
    expect(ACTIVE.match(/reverse_proxy/g)).toHaveLength(1);
    expect(directive('reverse_proxy')).toBe(`${SHIPPED_UPSTREAM} {`);
  });

  it('refuses /admin* on the public site', () => {
    expect(ACTIVE).toMatch(/handle \/admin\* \{\s*respond "Forbidden" 403\s*\}/);
  });

  it.each(['response_header_timeout', 'read_timeout', 'write_timeout', 'read_body', 'write'])(
    '%s is at least 15 minutes (5-minute generations, failover to a second account)',
    (name) => expect(parseDurationMs(directive(name))).toBeGreaterThanOrEqual(FIFTEEN_MIN_MS),
  );

  it('outlasts the gateway waiting on two accounts for headers', () => {
    expect(parseDurationMs(directive('response_header_timeout'))).toBeGreaterThan(2 * CONFIG_FIELDS.upstreamHeadersTimeoutMs.default);
  });

  it('never buffers, and overwrites the client-address headers with what Caddy saw', () => {
    expect(directive('flush_interval')).toBe('-1');
    expect(directive('header_up X-Forwarded-For')).toBe('{remote_host}');
    expect(directive('header_up X-Real-IP')).toBe('{remote_host}');
  });

  it('parses durations strictly (near-misses throw)', () => {
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    for (const bad of ['15', '15min', 'm15', '']) expect(() => parseDurationMs(bad)).toThrow();
  });
});

const caddy = findSystemTool('caddy', 'apt-get install caddy');
const scratch = mkdtempSync(join(tmpdir(), 'cig-caddy-'));
const caddyEnv = { ...process.env, HOME: scratch, XDG_DATA_HOME: join(scratch, 'data'), XDG_CONFIG_HOME: join(scratch, 'config') };

describe.skipIf(!caddy)('caddy validate', () => {
  it('accepts the shipped Caddyfile', () => {
    const res = spawnSync(caddy!, ['validate', '--config', CADDYFILE_PATH, '--adapter', 'caddyfile'], { env: caddyEnv, encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout + res.stderr).toContain('Valid configuration');
  });

  it('rejects a broken one (the check is not vacuous)', () => {
    const broken = join(scratch, 'Broken.caddyfile');
    writeFileSync(broken, CADDYFILE.replace('flush_interval -1', 'flush_interval sometimes'));
    const res = spawnSync(caddy!, ['validate', '--config', broken, '--adapter', 'caddyfile'], { env: caddyEnv, encoding: 'utf8' });
    expect(res.status).not.toBe(0);
  });
});

describe.skipIf(!caddy)('through a real Caddy with the shipped Caddyfile', () => {
  let h: GatewayHarness;
  let secret: string;
  let proxy: RunningCaddy;
  let caddyUrl: string;
  /** Connections from 127.0.0.2: a client address distinct from Caddy's own 127.0.0.1. */
  const fromOtherAddress = new Agent({ localAddress: '127.0.0.2' });

  beforeAll(async () => {
    // Bodies of ~256 KiB in 16 KiB chunks, so a stalled body shows whether anything buffers.
    const fake = await startFakeCodexUpstream({ defaultSuccess: { imageBytes: 256 * 1024 }, chunkBytes: 16 * 1024 });
    h = await startGatewayHarness({ fake, env: { TRUSTED_PROXIES: '127.0.0.1' } });
    await h.importAccount('caddy-acct');
    secret = (await h.createKey()).secret;
    proxy = await startCaddy(caddy!, new URL(h.gatewayUrl).host);
    caddyUrl = proxy.url;
  });

  afterAll(async () => {
    await proxy?.stop();
    await fromOtherAddress.close();
    await h?.fake.close();
    await h?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const post = (base: string, path: string, opts: { headers?: Record<string, string>; dispatcher?: Agent } = {}) =>
    request(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...opts.headers },
      body: JSON.stringify({ prompt: 'a lighthouse at dusk' }),
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });

  it('an image request succeeds', async () => {
    const res = await post(caddyUrl, '/v1/images/generations');
    const body = (await res.body.json()) as { data: { b64_json: string }[] };
    expect(res.statusCode).toBe(200);
    expect(body.data).toHaveLength(1);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
  });

  it.each(Object.keys(ENDPOINT_ALIASES))('%s reaches the gateway (its OpenAI-shaped 401 without a key)', async (path) => {
    const res = await request(`${caddyUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.statusCode).toBe(401);
    expect(((await res.body.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
  });

  it.each([...MODELS_PATHS, '/v1/models/dall-e-3', '/api/llm-gateway/v1/models/ft:x:y'])(
    'GET %s reaches the gateway (its OpenAI-shaped 401 without a key)',
    async (path) => {
      const res = await request(`${caddyUrl}${path}`);
      expect(res.statusCode).toBe(401);
      expect(res.headers['x-request-id']).toMatch(/^req_/);
      expect(((await res.body.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    },
  );

  it.each(RESULTS_PATHS.map((p) => `${p}/imgres_unknown`))('GET %s reaches the gateway (its OpenAI-shaped 404 result_not_found)', async (path) => {
    const res = await request(`${caddyUrl}${path}`);
    expect(res.statusCode).toBe(404);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('result_not_found');
  });

  it.each(['/v1/images/generations/', '/v1/images/variations', '/v1/images/results', '/v1/modelsx', '/metrics', '/readyz', '/v1/chat/completions'])(
    'near-miss %s stays on Caddy (404, never reaches the gateway)',
    async (path) => {
      const res = await post(caddyUrl, path);
      expect(res.statusCode).toBe(404);
      expect(res.headers['x-request-id']).toBeUndefined();
      await res.body.dump();
    },
  );

  it.each(['/admin', '/admin/api/keys', '/admin/api/health'])('%s is refused on the public site', async (path) => {
    const res = await request(`${caddyUrl}${path}`, { headers: { authorization: 'Bearer whatever' } });
    expect(res.statusCode).toBe(403);
    expect(await res.body.text()).toBe('Forbidden');
  });

  it('a generation of several seconds completes through the proxy', async () => {
    h.fake.setBehavior('caddy-acct', [fakeBehaviors.success({ delayMs: 4_000 })]);
    const started = Date.now();
    const res = await post(caddyUrl, '/v1/images/generations');
    const body = (await res.body.json()) as { data: unknown[] };
    expect(res.statusCode).toBe(200);
    expect(body.data).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
  });

  it('streams: the first bytes arrive while the upstream body is still stalled', async () => {
    h.fake.setBehavior('caddy-acct', [fakeBehaviors.stallBody(3_000)]);
    const started = Date.now();
    const res = await post(caddyUrl, '/v1/images/generations');
    expect(res.statusCode).toBe(200);
    let firstChunkMs: number | null = null;
    let bytes = 0;
    for await (const chunk of res.body) {
      firstChunkMs ??= Date.now() - started;
      bytes += (chunk as Buffer).length;
    }
    const totalMs = Date.now() - started;
    expect(totalMs).toBeGreaterThanOrEqual(3_000);
    expect(firstChunkMs!).toBeLessThan(2_000);
    expect(bytes).toBeGreaterThan(256 * 1024);
  });

  it('the request log records the address Caddy saw, not the one the client claimed', async () => {
    const res = await post(caddyUrl, '/v1/images/generations', {
      headers: { 'x-forwarded-for': '203.0.113.66', 'x-real-ip': '203.0.113.66' },
      dispatcher: fromOtherAddress,
    });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    const events = await h.waitForLogEvents(String(res.headers['x-request-id']));
    expect(events.map((e) => e.client_ip)).toEqual(['127.0.0.2']);
  });

  it('a client talking to the gateway directly cannot choose its logged address (its peer is not a trusted proxy)', async () => {
    const res = await post(h.gatewayUrl, '/v1/images/generations', { headers: { 'x-forwarded-for': '203.0.113.66' }, dispatcher: fromOtherAddress });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    const events = await h.waitForLogEvents(String(res.headers['x-request-id']));
    expect(events.map((e) => e.client_ip)).toEqual(['127.0.0.2']);
  });

  it('X-Forwarded-For is believed from a trusted proxy address (127.0.0.1), which is what makes the difference', async () => {
    const res = await post(h.gatewayUrl, '/v1/images/generations', { headers: { 'x-forwarded-for': '203.0.113.66' } });
    await res.body.dump();
    const events = await h.waitForLogEvents(String(res.headers['x-request-id']));
    expect(events.map((e) => e.client_ip)).toEqual(['203.0.113.66']);
  });
});
