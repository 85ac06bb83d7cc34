import type OpenAI from 'openai';
import { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng } from '../support/images.js';
import { parseSse } from '../support/sse-events.js';

let h: GatewayHarness;
let secret: string;

/** Two accounts in name order; cooldowns off so a failing account is tried again by the next test. */
beforeAll(async () => {
  h = await startGatewayHarness({ env: { STREAM_KEEPALIVE_MS: '200', RATE_LIMIT_COOLDOWN_CAP_MS: '0', FAILURE_BACKOFF_BASE_MS: '0' } });
  await h.importAccount('p-first');
  await h.importAccount('p-second');
  secret = (await h.createKey({ routing: { mode: 'accounts', accounts: ['p-first', 'p-second'] } })).secret;
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const isPng = (b64: string) => Buffer.from(b64, 'base64').subarray(1, 4).toString() === 'PNG';

async function streamRaw(body: Record<string, unknown>) {
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a partial lighthouse', stream: true, partial_images: 2, ...body }),
  });
  return { res, ...parseSse(await res.text()) };
}

describe('partial images through the Codex Responses API', () => {
  it('generate, partial_images: 2 → 2 partial events then 1 completed, all valid PNGs, through the official SDK', async () => {
    const stream = await h.sdk(secret).images.generate({ prompt: 'a fox', stream: true, partial_images: 2, size: '1024x1536', quality: 'high' });
    const events = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
    const [p0, p1, done] = events as [OpenAI.Images.ImageGenPartialImageEvent, OpenAI.Images.ImageGenPartialImageEvent, OpenAI.Images.ImageGenCompletedEvent];
    expect([p0.partial_image_index, p1.partial_image_index]).toEqual([0, 1]);
    expect([p0.b64_json, p1.b64_json, done.b64_json].every(isPng)).toBe(true);
    expect(done.usage).toMatchObject({ input_tokens: 17, output_tokens: 1372, total_tokens: 1389 });
    const sent = h.fake.requests.at(-1)!;
    expect(sent.endpoint).toBe('responses');
    expect(sent.body!.fields).toMatchObject({ store: false, stream: true, instructions: '' });
    expect(sent.body!.tool).toMatchObject({ model: 'gpt-image-2', partial_images: 2, size: '1024x1536', quality: 'high' });
  });

  it('edit, partial_images: 2 → 2 image_edit.partial_image then image_edit.completed; the images go as input_image parts', async () => {
    const png = makePng(8, 8);
    const stream = await h
      .sdk(secret)
      .images.edit({ prompt: 'add a hat', image: await toFile(png, 'a.png', { type: 'image/png' }), stream: true, partial_images: 2 });
    const events = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed']);
    expect(events.every((e) => isPng(e.b64_json))).toBe(true);
    expect(h.fake.requests.at(-1)!.body!.images).toEqual([{ kind: 'data_url', mime: 'image/png', bytes: png.length }]);
  });

  it('a stream that fails before any image byte fails over to the next account', async () => {
    h.fake.setBehavior('p-first', fakeBehaviors.responseFailed({ at: 0 }));
    const { events } = await streamRaw({});
    expect(events.map((e) => e.event)).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
    expect(h.fake.requests.map((r) => r.accountId)).toEqual(['p-first', 'p-second']);
  });

  it('a failure after a partial image went out is an error event (no failover: the client has image bytes)', async () => {
    h.fake.setBehavior('*', fakeBehaviors.streamCut({ at: 1 }));
    const { events } = await streamRaw({});
    const names = events.map((e) => e.event);
    expect(names.at(-1)).toBe('error');
    expect(names.slice(0, -1).length).toBeGreaterThanOrEqual(1);
    expect(new Set(names.slice(0, -1))).toEqual(new Set(['image_generation.partial_image']));
    expect(events.at(-1)!.data).toMatchObject({ error: { code: 'upstream_stream_cut', type: 'server_error' } });
    expect(h.fake.requests).toHaveLength(1);
  });

  it('a text-only answer on every account is an error event after failover', async () => {
    h.fake.setBehavior('*', fakeBehaviors.textOnly());
    const { res, events } = await streamRaw({});
    expect(res.status).toBe(200);
    expect(events.map((e) => e.event)).toEqual(['error']);
    expect(events[0]!.data).toMatchObject({ error: { code: 'account_pool_exhausted' } });
    expect(h.fake.requests).toHaveLength(2);
  });

  it('without stream, or with n > 1, partial_images is named as not honoured and the images endpoint serves', async () => {
    const plain = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', partial_images: 2 }),
    });
    expect(plain.headers.get('x-gateway-ignored-params')).toBe('partial_images');
    const many = await streamRaw({ n: 2 });
    expect(many.res.headers.get('x-gateway-ignored-params')).toBe('partial_images');
    expect(many.events.map((e) => e.event)).toEqual(['image_generation.completed', 'image_generation.completed']);
    expect(h.fake.requests.every((r) => r.endpoint === 'generations')).toBe(true);
  });

  it('logs the partial events and the Responses path', async () => {
    const { res } = await streamRaw({});
    const lines = await h.waitForLogEvents(res.headers.get('x-request-id')!);
    expect(lines.at(-1)).toMatchObject({ stream: true, partial_events: 2, upstream_path: 'responses', response_image_count: 1, usage_tokens: 1389 });
  });
});
