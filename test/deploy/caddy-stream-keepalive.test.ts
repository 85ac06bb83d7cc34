/**
 * Keep-alive proven through a real proxy: a Caddy whose response-header and read timeouts (2 s) are
 * far shorter than a 5 s generation. Streamed, the request survives (the headers go out once an
 * account is held, then a comment line every 0.5 s); the same request without streaming is cut by
 * Caddy, which proves the setup can fail. The figures are scaled down from real ones (minutes) to
 * keep the test short; only their order matters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startCaddy, type RunningCaddy } from '../support/caddy.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { findSystemTool } from '../support/system-tool.js';

const GENERATION_MS = 5_000;
const caddy = findSystemTool('caddy', 'apt-get install caddy');

/** The shipped Caddyfile with impatient proxy timeouts, as an operator might inherit from elsewhere. */
const impatient = (caddyfile: string) =>
  caddyfile.replace(/response_header_timeout \S+/, 'response_header_timeout 2s').replace(/read_timeout \S+/, 'read_timeout 2s');

describe.skipIf(!caddy)('a long generation through a Caddy with 2 s timeouts', () => {
  let h: GatewayHarness;
  let proxy: RunningCaddy;
  let secret: string;

  beforeAll(async () => {
    h = await startGatewayHarness({ env: { STREAM_KEEPALIVE_MS: '500', TRUSTED_PROXIES: '127.0.0.1' } });
    await h.importAccount('slow-acct');
    secret = (await h.createKey()).secret;
    proxy = await startCaddy(caddy!, new URL(h.gatewayUrl).host, impatient);
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: GENERATION_MS }));
  });
  afterAll(async () => {
    await proxy?.stop();
    await h?.stop();
  });

  const generate = (stream: boolean) =>
    fetch(`${proxy.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a patient lighthouse', stream }),
    }).then(async (res) => ({ status: res.status, text: await res.text() }));

  it('streamed it arrives whole; unstreamed the proxy cuts it', async () => {
    const started = Date.now();
    const [streamed, plain] = await Promise.all([generate(true), generate(false)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(GENERATION_MS);
    expect(streamed.status, proxy.output()).toBe(200);
    expect(streamed.text).toContain(': keep-alive');
    expect(streamed.text).toContain('event: image_generation.completed');
    expect(plain.status).toBeGreaterThanOrEqual(502);
    expect(plain.text).not.toContain('b64_json');
  }, 40_000);
});
