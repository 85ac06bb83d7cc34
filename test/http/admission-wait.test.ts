import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/control/api-key.js';
import { AccountLimiter } from '../../src/limits/account-limiter.js';
import { AdmissionQueue } from '../../src/limits/admission-queue.js';
import { createGatewayMetrics } from '../../src/observe/gateway-metrics.js';
import type { ImageLogEvent } from '../../src/observe/image-log-event.js';
import { replies, ScriptedUpstream, type UpstreamScript } from '../support/scripted-upstream.js';
import { makeAccount, makeKey, makeSnapshot } from '../support/snapshot-fixtures.js';
import { parseSse } from '../support/sse-events.js';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { waitFor } from '../support/wait-for.js';

const SECRET = 'cig_admission-wait-secret';

/** A deferred the test opens when it chooses (an upstream call held until then). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * The data-plane app over one account capped at 1 image, with a real admission queue (on a clock
 * the test moves, so waited time is exact) woken by the limiter's releases, as in the data plane.
 */
async function startApp(opts: { script: UpstreamScript; env?: Record<string, string> }) {
  const snapshot = makeSnapshot([makeKey({ hash: hashApiKey(SECRET) })], [makeAccount('a', { imageConcurrency: 1 })]);
  let clock = 1_000_000;
  const metrics = createGatewayMetrics();
  const admission = new AdmissionQueue({
    maxQueuedPerKey: Number(opts.env?.ADMISSION_QUEUE_MAX_PER_KEY ?? 64),
    now: () => clock,
    onQueuedChange: (n) => metrics.queuedRequests.set(n),
  });
  const accountLimiter = new AccountLimiter(Date.now, undefined, (id) => admission.notify([id]));
  const upstream = new ScriptedUpstream(opts.script);
  const log: ImageLogEvent[] = [];
  const app = await buildTestGatewayApp(() => snapshot, {
    env: { STREAM_KEEPALIVE_MS: '100', ...opts.env },
    overrides: { upstream, accountLimiter, admission, metrics, requestLog: { write: (event) => void log.push(event) } },
  });
  const generate = (body: Record<string, unknown> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v1/images/generations',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      payload: JSON.stringify({ prompt: 'a lighthouse', ...body }),
    });
  const logFor = (requestId: string) => waitFor(`log of ${requestId}`, () => log.filter((e) => e.request_id === requestId).at(-1));
  const advance = (ms: number) => (clock += ms);
  return { app, upstream, admission, accountLimiter, metrics, generate, logFor, advance };
}

let current: Awaited<ReturnType<typeof startApp>> | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});
const start = async (opts: Parameters<typeof startApp>[0]) => (current = await startApp(opts));

describe('a request whose accounts are all at their cap waits for a slot (ADMISSION_WAIT_MS)', () => {
  it('is served as soon as the slot frees, never above the cap; the wait is logged and measured', async () => {
    const slow = gate();
    const t = await start({ script: { a: [replies.held(slow.promise), replies.ok()] } });
    const first = t.generate();
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    const second = t.generate();
    await waitFor('the second request queued', () => t.admission.queued() === 1);
    const gauge = await t.metrics.render();
    expect(gauge.body).toMatch(/^codex_image_queued_requests 1$/m);
    t.advance(2_500);
    slow.open();
    const [a, b] = await Promise.all([first, second]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(t.upstream.maxInFlight).toBe(1);
    expect(t.upstream.calls).toEqual(['a', 'a']);
    expect((await t.logFor(String(b.headers['x-request-id']))).queue_wait_ms).toBe(2_500);
    expect((await t.logFor(String(a.headers['x-request-id']))).queue_wait_ms).toBe(0);
    const rendered = (await t.metrics.render()).body;
    expect(rendered).toMatch(/^codex_image_queue_wait_seconds_count\{result="taken"\} 1$/m);
    expect(rendered).toMatch(/^codex_image_queue_wait_seconds_sum\{result="taken"\} 2\.5$/m);
    expect(rendered).toMatch(/^codex_image_queued_requests 0$/m);
  });

  it('a wait that times out answers what the instant refusal answers: 429 accounts_busy, retry-after 1', async () => {
    const slow = gate();
    const t = await start({ script: { a: [replies.held(slow.promise), replies.ok()] }, env: { ADMISSION_WAIT_MS: '50' } });
    const first = t.generate();
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    const waited = await t.generate();
    expect(waited.statusCode).toBe(429);
    expect(waited.json().error).toMatchObject({ code: 'accounts_busy', type: 'rate_limit_error' });
    expect([waited.headers['retry-after'], waited.headers['retry-after-ms']]).toEqual(['1', '1000']);
    const line = await t.logFor(String(waited.headers['x-request-id']));
    expect(line).toMatchObject({ event: 'exhausted', error_class: 'concurrency_blocked', upstream_status: 429 });
    expect((await t.metrics.render()).body).toMatch(/^codex_image_queue_wait_seconds_count\{result="timeout"\} 1$/m);
    expect(t.upstream.calls).toEqual(['a']);
    expect(t.admission.queued()).toBe(0);
    slow.open();
    expect((await first).statusCode).toBe(200);
  });

  it('ADMISSION_WAIT_MS=0: the instant 429, nothing queued', async () => {
    const slow = gate();
    const t = await start({ script: { a: [replies.held(slow.promise), replies.ok()] }, env: { ADMISSION_WAIT_MS: '0' } });
    const first = t.generate();
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    const refused = await t.generate();
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('accounts_busy');
    expect((await t.logFor(String(refused.headers['x-request-id']))).queue_wait_ms).toBe(0);
    expect((await t.metrics.render()).body).not.toMatch(/^codex_image_queue_wait_seconds_count/m);
    slow.open();
    expect((await first).statusCode).toBe(200);
  });

  it('past ADMISSION_QUEUE_MAX_PER_KEY waiting requests: 429 admission_queue_full at once, with retry-after', async () => {
    const slow = gate();
    const t = await start({ script: { a: [replies.held(slow.promise), replies.ok()] }, env: { ADMISSION_QUEUE_MAX_PER_KEY: '1' } });
    const first = t.generate();
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    const queued = t.generate();
    await waitFor('one request queued', () => t.admission.queued() === 1);
    const refused = await t.generate();
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toMatchObject({ code: 'admission_queue_full', type: 'rate_limit_error', param: null });
    expect(refused.headers['retry-after']).toBe('1');
    expect(await t.logFor(String(refused.headers['x-request-id']))).toMatchObject({ event: 'exhausted', error_class: 'admission_queue_full' });
    slow.open();
    expect((await first).statusCode).toBe(200);
    expect((await queued).statusCode).toBe(200);
  });

  it('a stream starts its answer when it starts waiting, and sends keep-alive comments while it waits', async () => {
    const slow = gate();
    const t = await start({ script: { a: [replies.held(slow.promise), replies.ok()] } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const post = (body: Record<string, unknown>) =>
      request(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
        body: JSON.stringify({ prompt: 'a lighthouse', ...body }),
      });
    const first = post({});
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    const stream = await post({ stream: true });
    // Headers are out while the request is still queued: nothing has been called for it.
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(t.admission.queued()).toBe(1);
    let text = '';
    stream.body.setEncoding('utf8');
    stream.body.on('data', (chunk: string) => (text += chunk));
    // Listened for from the start: once the slot frees, the stream may end before `first` settles.
    const ended = new Promise((resolve) => stream.body.on('end', resolve));
    await waitFor('a keep-alive comment while queued', () => text.includes(': keep-alive'));
    expect(t.upstream.calls).toEqual(['a']);
    slow.open();
    expect((await first).statusCode).toBe(200);
    await ended;
    const events = parseSse(text).events.map((e) => e.event);
    expect(events).toEqual(['image_generation.completed']);
  });
});
