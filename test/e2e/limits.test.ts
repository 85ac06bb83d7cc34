import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;

beforeAll(async () => {
  // No waiting for a slot: these tests check the instant refusals (test/e2e/admission-queue.test.ts checks the wait).
  h = await startGatewayHarness({ env: { ADMISSION_WAIT_MS: '0' } });
  await h.importAccount('cap-a', { imageConcurrency: 2 });
  await h.importAccount('cap-b', { imageConcurrency: 3 });
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const post = (secret: string, body: Record<string, unknown> = { prompt: 'p' }) =>
  request(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('per-account image concurrency', () => {
  it('is never exceeded at the upstream under 30 parallel requests', async () => {
    const key = await h.createKey({ routing: { mode: 'accounts', accounts: ['cap-a', 'cap-b'] } });
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 150 }));
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        post(key.secret).then(async (r) => ({
          status: r.statusCode,
          body: await r.body.json(),
          retryAfter: [r.headers['retry-after'], r.headers['retry-after-ms']],
        })),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(h.fake.concurrency.max('cap-a')).toBeLessThanOrEqual(2);
    expect(h.fake.concurrency.max('cap-b')).toBeLessThanOrEqual(3);
    expect(h.fake.concurrency.max('cap-a') + h.fake.concurrency.max('cap-b')).toBeGreaterThanOrEqual(4);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(5);
    // Everything that did not get a slot is told so, as a rate limit the client may retry.
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(429);
      expect((r.body as { error: { code: string } }).error.code).toBe('accounts_busy');
      // No honest estimate of when a slot frees: the short default wait.
      expect(r.retryAfter).toEqual(['1', '1000']);
    }
  });
});

describe('per-key limits', () => {
  it('max concurrency admits one at a time', async () => {
    const key = await h.createKey({ maxConcurrency: 1 });
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 300 }));
    const first = post(key.secret);
    await waitFor('first request upstream', () => h.fake.concurrency.total >= 1 || null);
    const second = await post(key.secret);
    expect(second.statusCode).toBe(429);
    const body = (await second.body.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: 'key_rate_limited', type: 'rate_limit_error' });
    expect(body.error.message).toBe(
      'key image request limit reached: key_max_concurrency in_flight=1 request_max_concurrency=1 request_min_start_interval_ms=unlimited',
    );
    expect([second.headers['retry-after'], second.headers['retry-after-ms']]).toEqual(['1', '1000']);
    expect((await first).statusCode).toBe(200);
    expect((await post(key.secret)).statusCode).toBe(200);
  });

  it('min start interval refuses a start too soon after the last one, then admits', async () => {
    const key = await h.createKey({ minStartIntervalMs: 700 });
    expect((await post(key.secret)).statusCode).toBe(200);
    const early = await post(key.secret);
    expect(early.statusCode).toBe(429);
    // The time until the key's next start slot, in ms (and whole seconds, rounded up).
    expect(Number(early.headers['retry-after-ms'])).toBeGreaterThan(0);
    expect(Number(early.headers['retry-after-ms'])).toBeLessThanOrEqual(700);
    expect(early.headers['retry-after']).toBe('1');
    expect(((await early.body.json()) as { error: { message: string } }).error.message).toContain('key_min_start_interval');
    // Waiting exactly as long as the hint says is enough: the hint is the time to the next slot.
    await new Promise((r) => setTimeout(r, Number(early.headers['retry-after-ms'])));
    expect((await post(key.secret)).statusCode).toBe(200);
  });
});

describe('client disconnect', () => {
  it('aborts the upstream attempt at once and frees every slot', async () => {
    const key = await h.createKey({ maxConcurrency: 1, routing: { mode: 'accounts', accounts: ['cap-a'] } });
    h.fake.setBehavior('cap-a', [fakeBehaviors.hang()]);
    const controller = new AbortController();
    const abortable = request(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'abandoned' }),
      signal: controller.signal,
    }).catch(() => null);
    await waitFor('a request hanging upstream', () => h.fake.concurrency.current('cap-a') >= 1 || null);
    controller.abort();
    await abortable;
    await waitFor('the upstream connection to close', () => h.fake.concurrency.current('cap-a') === 0 || null, 2_000);
    // Both the key slot and the account slot are free again: the next request goes straight through.
    h.fake.setBehavior('cap-a', fakeBehaviors.success());
    expect((await post(key.secret)).statusCode).toBe(200);
  });
});
