import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { fakeBehaviors, startFakeCodexUpstream, type Behavior, type FakeCodexUpstream } from '../../support/fake-codex-upstream.js';
import { buildResponsesBody, CODEX_REQUEST_HEADERS, postResponses, type ResponsesPostOptions } from '../../support/fake-codex/responses-client.js';
import { makeCodexJwt } from '../../support/jwt.js';
import { rejectionOf, waitFor } from './upstream-test-kit.js';

let fake: FakeCodexUpstream;
const agent = new Agent({ keepAliveTimeout: 1000 });
const post = (opts: Omit<ResponsesPostOptions, 'dispatcher'> = {}) => postResponses(fake.url, { dispatcher: agent, ...opts });
const withPartials = (n: number) => buildResponsesBody({ tool: { partial_images: n } });

const HEAD = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.image_generation_call.in_progress',
  'response.image_generation_call.generating',
];
const PARTIAL = 'response.image_generation_call.partial_image';
const TAIL = ['response.image_generation_call.completed', 'response.output_item.done', 'response.completed'];

/** The data of the event named `type` (the first one). */
const eventData = (res: { events: { event: string | null; data: unknown }[] }, type: string) =>
  res.events.find((e) => e.event === type)?.data as Record<string, unknown> | undefined;

beforeAll(async () => {
  fake = await startFakeCodexUpstream();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  await agent.close();
});

describe('fake Codex upstream /responses: stream failures', () => {
  it('responseFailed: the stream runs to `at` (capped by partial_images), then response.failed with the error, and ends normally', async () => {
    fake.setBehavior('acct-a', [
      fakeBehaviors.responseFailed({ at: 1, code: 'image_generation_user_error', message: 'nope' }),
      fakeBehaviors.responseFailed({ at: 3 }),
    ]);
    const first = await post({ body: withPartials(2) });
    expect(first.events.map((e) => e.event)).toEqual([...HEAD, PARTIAL, 'response.failed']);
    expect(first.error).toBeNull();
    expect(eventData(first, 'response.failed')).toMatchObject({
      type: 'response.failed',
      sequence_number: 6,
      response: { status: 'failed', error: { code: 'image_generation_user_error', message: 'nope' }, output: [] },
    });
    expect(fake.requests[0]?.stream).toEqual({ events: [...HEAD, PARTIAL, 'response.failed'], end: 'finished' });
    const capped = await post({ body: withPartials(1) });
    expect(capped.events.map((e) => e.event)).toEqual([...HEAD, PARTIAL, 'response.failed']);
    expect(eventData(capped, 'response.failed')).toMatchObject({ response: { error: { code: 'server_error', message: expect.any(String) } } });
  });

  it("streamError: an `error` event (ResponseErrorEvent shape) at 'start', before any other event", async () => {
    fake.setBehavior('acct-a', fakeBehaviors.streamError({ at: 'start', code: 'rate_limit_exceeded', message: 'slow down' }));
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.events).toEqual([
      { event: 'error', data: { type: 'error', sequence_number: 0, code: 'rate_limit_exceeded', message: 'slow down', param: null } },
    ]);
    expect(res.error).toBeNull();
  });

  it.each<[string, Behavior, string[]]>([
    ['default (after generating)', fakeBehaviors.streamCut(), HEAD],
    ["at 'start' (headers only)", fakeBehaviors.streamCut({ at: 'start' }), []],
    ['after one partial', fakeBehaviors.streamCut({ at: 1 }), [...HEAD, PARTIAL]],
    ["at 'item' (the image sent, no response.completed)", fakeBehaviors.streamCut({ at: 'item' }), [...HEAD, PARTIAL, PARTIAL, ...TAIL.slice(0, 2)]],
  ])('streamCut %s: the connection dies before response.completed', async (_name, behavior, expected) => {
    fake.setBehavior('acct-a', behavior);
    const res = await post({ body: withPartials(2) });
    expect(res.status).toBe(200);
    expect(res.events.map((e) => e.event)).toEqual(expected);
    expect((res.error as { code?: string } | null)?.code).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    expect(fake.requests[0]?.stream).toEqual({ events: expected, end: 'cut' });
    await waitFor(() => fake.concurrency.current('acct-a') === 0);
  });

  it('textOnly: a message item with output_text, no image_generation_call, response.completed without image usage', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.textOnly({ text: 'I cannot draw that.' }));
    const res = await post();
    const types = res.events.map((e) => e.event);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types.some((t) => t?.includes('image_generation_call'))).toBe(false);
    expect(eventData(res, 'response.output_item.done')).toMatchObject({
      item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'I cannot draw that.' }] },
    });
    const completed = eventData(res, 'response.completed') as { response: Record<string, unknown> };
    expect(completed.response).toMatchObject({ status: 'completed', output: [] });
    expect(completed.response).not.toHaveProperty('tool_usage');
  });

  it('stallStream: silent for stallMs at `at`, then the rest of the stream', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.stallStream(250, { at: 1 }));
    const startedAt = Date.now();
    const res = await post({ body: withPartials(2) });
    expect(res.events.map((e) => e.event)).toEqual([...HEAD, PARTIAL, PARTIAL, ...TAIL]);
    const firstPartial = res.chunks.findIndex((c) => c.text.includes('"partial_image_index":0'));
    const secondPartial = res.chunks.findIndex((c) => c.text.includes('"partial_image_index":1'));
    expect(firstPartial).toBeGreaterThan(-1);
    expect(secondPartial).toBeGreaterThan(firstPartial);
    // Measured from the request, not between chunks: a chunk read late under load would shorten the gap.
    expect((res.chunks[secondPartial]?.atMs ?? 0) - startedAt).toBeGreaterThanOrEqual(245);
  });

  it('stallBody on /responses stalls after generating; stallStream(Infinity) holds until the client leaves', async () => {
    fake.setBehavior('acct-a', [fakeBehaviors.stallBody(150), fakeBehaviors.stallStream(Number.POSITIVE_INFINITY)]);
    const startedAt = Date.now();
    const stalled = await post();
    const generating = stalled.chunks.findIndex((c) => c.text.includes('.generating'));
    expect(generating).toBeGreaterThan(-1);
    expect((stalled.chunks[generating + 1]?.atMs ?? 0) - startedAt).toBeGreaterThanOrEqual(145);
    expect(stalled.events.at(-1)?.event).toBe('response.completed');
    const controller = new AbortController();
    const held = post({ signal: controller.signal, onChunk: (t) => t.includes('.generating') && controller.abort() });
    const answer = await held;
    expect(answer.error).toBeInstanceOf(Error);
    await waitFor(() => fake.requests[1]?.stream?.end === 'client_closed');
    expect(fake.requests[1]?.stream?.events).toEqual(HEAD);
  });

  it('stream behaviours answer 500 on the image endpoints', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.responseFailed());
    const res = await request(`${fake.baseUrl}/images/generations`, {
      dispatcher: agent,
      method: 'POST',
      headers: { ...CODEX_REQUEST_HEADERS, authorization: `Bearer ${makeCodexJwt({ accountId: 'acct-a' })}` },
      body: JSON.stringify({ prompt: 'p', model: 'gpt-image-2' }),
    });
    expect(res.statusCode).toBe(500);
    expect(await res.body.json()).toEqual({ detail: 'fake-codex: behaviour responseFailed applies to /responses only' });
  });
});

describe('fake Codex upstream /responses: the image endpoints’ behaviours', () => {
  it.each<[string, Behavior, number, unknown]>([
    ['rateLimited', fakeBehaviors.rateLimited({ resetsInSeconds: 9 }), 429, { error: { type: 'usage_limit_reached', resets_in_seconds: 9 } }],
    ['unauthorized', fakeBehaviors.unauthorized(), 401, { error: { code: 'token_invalidated' } }],
    ['serverError 502', fakeBehaviors.serverError(502), 502, { error: { type: 'server_error' } }],
    ['detailError', fakeBehaviors.detailError(404, 'Not Found'), 404, { detail: 'Not Found' }],
    ['slowHeaders then badRequest', fakeBehaviors.slowHeaders(50, fakeBehaviors.badRequest()), 400, { error: { code: 'moderation_blocked' } }],
  ])('%s answers JSON with its status', async (_name, behavior, status, body) => {
    fake.setBehavior('acct-a', behavior);
    const res = await post();
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.text)).toMatchObject(body as object);
    expect(fake.requests[0]).toMatchObject({ status, stream: null });
  });

  it('slowHeaders before a stream, reset, and hang', async () => {
    fake.setBehavior('acct-a', [fakeBehaviors.slowHeaders(100), fakeBehaviors.reset(), fakeBehaviors.hang()]);
    const startedAt = Date.now();
    const slow = await post();
    expect(slow.headersAtMs - startedAt).toBeGreaterThanOrEqual(90);
    expect(slow.events.at(-1)?.event).toBe('response.completed');
    expect((await rejectionOf(post())) as { code?: string }).toMatchObject({ code: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/) });
    const hanging = rejectionOf(post());
    await waitFor(() => fake.concurrency.current('acct-a') === 1);
    fake.reset();
    expect(await hanging).toBeInstanceOf(Error);
  });
});

describe('fake Codex upstream /responses: concurrency and disconnects', () => {
  it('counts open streams per account until they end', async () => {
    fake.setBehavior('*', fakeBehaviors.stallStream(Number.POSITIVE_INFINITY));
    const pending = [post(), post(), post({ account: 'acct-b' })];
    await waitFor(() => fake.concurrency.total === 3 && fake.requests.every((r) => r.stream?.events.length === HEAD.length));
    expect([fake.concurrency.current('acct-a'), fake.concurrency.current('acct-b'), fake.concurrency.max('acct-a')]).toEqual([2, 1, 2]);
    fake.reset();
    for (const answer of await Promise.all(pending)) expect(answer.error).toBeInstanceOf(Error);
    await waitFor(() => fake.concurrency.total === 0);
    await post();
    await waitFor(() => fake.concurrency.total === 0);
    expect(fake.concurrency.max('acct-a')).toBe(1);
  });

  it('a client that disconnects mid-stream: the fake stops writing at once, counts it out, and keeps serving', async () => {
    fake.setBehavior('acct-a', [fakeBehaviors.success({ eventIntervalMs: 5_000 })]);
    const controller = new AbortController();
    const startedAt = Date.now();
    const answer = await post({ body: withPartials(3), signal: controller.signal, onChunk: () => controller.abort() });
    expect(answer.events.map((e) => e.event)).toEqual(['response.created']);
    await waitFor(() => fake.concurrency.current('acct-a') === 0 && fake.requests[0]?.stream?.end === 'client_closed');
    expect(Date.now() - startedAt).toBeLessThan(2_000); // the 5 s gap was not waited out
    expect(fake.requests[0]?.stream?.events).toEqual(['response.created']);
    const next = await post();
    expect(next.events.at(-1)?.event).toBe('response.completed');
  });
});
