import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng } from '../support/images.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
let secret: string;

/** Two accounts tried in name order on an idle gateway; cooldowns off so each test starts clean. */
beforeAll(async () => {
  h = await startGatewayHarness({
    env: { STREAM_KEEPALIVE_MS: '200', UPSTREAM_BODY_TIMEOUT_MS: '1500', RATE_LIMIT_COOLDOWN_CAP_MS: '0', FAILURE_BACKOFF_BASE_MS: '0' },
  });
  await h.importAccount('s-first');
  await h.importAccount('s-second');
  secret = (await h.createKey({ routing: { mode: 'accounts', accounts: ['s-first', 's-second'] } })).secret;
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const isPng = (b64: string) =>
  Buffer.from(b64, 'base64')
    .subarray(0, 8)
    .equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

interface SseEvent {
  event: string;
  data: string;
}

/** POSTs a generation and reads the whole answer as SSE: comments counted, events parsed. */
async function streamRaw(body: Record<string, unknown>, key = secret) {
  const started = Date.now();
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a streamed lighthouse', stream: true, ...body }),
  });
  const headersAfterMs = Date.now() - started;
  const text = await res.text();
  const blocks = text.split('\n\n').filter((b) => b !== '');
  const comments = blocks.filter((b) => b.startsWith(':')).length;
  const events: SseEvent[] = blocks
    .filter((b) => !b.startsWith(':'))
    .map((b) => ({ event: /^event: (.*)$/m.exec(b)?.[1] ?? '', data: /^data: (.*)$/m.exec(b)?.[1] ?? '' }));
  return { res, text, headersAfterMs, comments, events };
}

describe('stream: true through the official openai SDK', () => {
  it('generate → one image_generation.completed event with every field the OpenAI API reference requires, within its enums', async () => {
    // The upstream echoes what it made; a size outside the event enum is reported as requested.
    h.fake.setBehavior('*', fakeBehaviors.success({ extra: { size: '1254x1254', quality: 'high', background: 'opaque' } }));
    const stream = await h.sdk(secret).images.generate({ prompt: 'a fox', stream: true, size: '1024x1536', quality: 'high' });
    const events = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed']);
    const done = events[0] as OpenAI.Images.ImageGenCompletedEvent;
    expect(isPng(done.b64_json)).toBe(true);
    expect(done).toMatchObject({ size: '1024x1536', quality: 'high', background: 'opaque', output_format: 'png' });
    expect(done.created_at).toBeGreaterThan(1_700_000_000);
    expect(done.usage).toMatchObject({
      input_tokens: 17,
      output_tokens: 1372,
      total_tokens: 1389,
      input_tokens_details: { text_tokens: expect.any(Number), image_tokens: expect.any(Number) },
    });
    expect(h.fake.requests.at(-1)!.body!.fields).not.toHaveProperty('stream');
  });

  it('edit → image_edit.completed', async () => {
    const png = makePng(8, 8);
    const stream = await h.sdk(secret).images.edit({ prompt: 'add a hat', image: await toFile(png, 'a.png', { type: 'image/png' }), stream: true });
    const types = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toEqual(['image_edit.completed']);
    expect(h.fake.requests.at(-1)!.body!.images).toHaveLength(1);
  });

  it('n: 2 → two completed events, from two upstream calls', async () => {
    const stream = await h.sdk(secret).images.generate({ prompt: 'two owls', stream: true, n: 2 });
    const images = [];
    for await (const event of stream) if (event.type === 'image_generation.completed') images.push(event.b64_json);
    expect(images).toHaveLength(2);
    expect(images.every(isPng)).toBe(true);
    expect(h.fake.requests).toHaveLength(2);
  });

  it('an error after the answer started reaches the SDK as an APIError', async () => {
    h.fake.setBehavior('*', fakeBehaviors.badRequest());
    const stream = await h.sdk(secret).images.generate({ prompt: 'blocked', stream: true });
    const failure = await (async () => {
      for await (const _event of stream) {
        // no event is expected before the error
      }
    })().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).message).toContain('safety system');
  });
});

describe('keep-alive and failover inside a stream', () => {
  it('headers go out once an account is held; comment lines keep the connection busy until the event', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 1200 }));
    const { res, headersAfterMs, comments, events } = await streamRaw({});
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(headersAfterMs).toBeLessThan(1000);
    expect(comments).toBeGreaterThanOrEqual(3);
    expect(events.map((e) => e.event)).toEqual(['image_generation.completed']);
  });

  it('fails over before the first image byte: the client sees only the image', async () => {
    h.fake.setBehavior('s-first', fakeBehaviors.serverError(502));
    const { events } = await streamRaw({});
    expect(events.map((e) => e.event)).toEqual(['image_generation.completed']);
    expect(h.fake.requests.map((r) => [r.accountId, r.status])).toEqual([
      ['s-first', 502],
      ['s-second', 200],
    ]);
  });

  it("exhaustion after the headers went out is an error event with the plain request's code", async () => {
    h.fake.setBehavior('*', fakeBehaviors.rateLimited({ resetsInSeconds: 30 }));
    const { res, events } = await streamRaw({});
    expect(res.status).toBe(200);
    expect(events.map((e) => e.event)).toEqual(['error']);
    expect(JSON.parse(events[0]!.data)).toMatchObject({ error: { code: 'accounts_rate_limited', type: 'rate_limit_error' } });
  });

  it('an upstream that stalls inside the image ends the stream with an error event, not a cut', async () => {
    h.fake.setBehavior('*', fakeBehaviors.stallBody(Infinity));
    const { events, text } = await streamRaw({});
    expect(events.at(-1)).toMatchObject({ event: 'error' });
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ error: { code: 'upstream_body' } });
    expect(text.endsWith('\n\n')).toBe(true);
  });

  it('refusals before any account is held stay plain JSON errors with their status', async () => {
    const bad = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', stream: true, n: 11 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('a client that goes away mid-stream frees the key and account slots at once', async () => {
    // One slot each: the follow-up request can only run if both permits were given back.
    await h.importAccount('s-solo', { imageConcurrency: 1 });
    const key = await h.createKey({ routing: { mode: 'accounts', accounts: ['s-solo'] }, maxConcurrency: 1 });
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 30_000 }));
    const controller = new AbortController();
    const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'abandoned', stream: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    await waitFor('the upstream call to start', async () => (h.fake.concurrency.current('s-solo') === 1 ? true : null));
    controller.abort();
    await waitFor('the upstream call to be cut', async () => (h.fake.concurrency.current('s-solo') === 0 ? true : null));
    h.fake.setBehavior('*', fakeBehaviors.success());
    const again = await waitFor('the key slot to be free', async () => {
      const r = await streamRaw({}, key.secret);
      return r.events[0]?.event === 'image_generation.completed' ? r : null;
    });
    expect(again.res.status).toBe(200);
  });

  it('logs the stream with its upstream path', async () => {
    const { res } = await streamRaw({ partial_images: 0 });
    const [line] = await h.waitForLogEvents(res.headers.get('x-request-id')!);
    expect(line).toMatchObject({ stream: true, partial_events: 0, upstream_path: 'images', upstream_status: 200, response_image_count: 1 });
  });
});
