import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { fakeBehaviors, startFakeCodexUpstream, type FakeCodexUpstream } from '../../support/fake-codex-upstream.js';
import { buildResponsesBody, postResponses, type ResponsesPostOptions } from '../../support/fake-codex/responses-client.js';
import { makeCodexJwt } from '../../support/jwt.js';

let fake: FakeCodexUpstream;
const agent = new Agent({ keepAliveTimeout: 1000 });
const post = (opts: Omit<ResponsesPostOptions, 'dispatcher'> = {}) => postResponses(fake.url, { dispatcher: agent, ...opts });

/** The fields of the Responses stream events these tests read directly (the rest through toMatchObject). */
interface StreamEvent {
  type: string;
  sequence_number: number;
  output_index?: number;
  item_id?: string;
  partial_image_index?: number;
  partial_image_b64?: string;
  size?: string;
  text?: string;
  item?: { id: string; type: string; result?: string; size?: string };
  response?: { id: string; created_at: number; output: unknown[]; tools: unknown[]; tool_usage?: { image_gen: unknown } };
}
const data = (events: { data: unknown }[]): StreamEvent[] => events.map((e) => e.data as StreamEvent);

/** Checks PNG structure (signature, chunks, IHDR, IDAT inflating to the pixel rows) and returns its size. */
function pngSize(base64: string): { width: number; height: number } {
  const png = Buffer.from(base64, 'base64');
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  const idat: Buffer[] = [];
  let at = 8;
  let ihdr: Buffer | null = null;
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') ihdr = body;
    if (type === 'IDAT') idat.push(body);
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  const width = ihdr?.readUInt32BE(0) ?? 0;
  const height = ihdr?.readUInt32BE(4) ?? 0;
  const bytesPerPixel = ihdr?.[9] === 6 ? 4 : ihdr?.[9] === 2 ? 3 : 0;
  expect(inflateSync(Buffer.concat(idat)).length).toBe(height * (1 + width * bytesPerPixel));
  return { width, height };
}

const IMAGE_EVENTS_HEAD = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.image_generation_call.in_progress',
  'response.image_generation_call.generating',
];
const IMAGE_EVENTS_TAIL = ['response.image_generation_call.completed', 'response.output_item.done', 'response.completed'];
const PARTIAL = 'response.image_generation_call.partial_image';
const TEXT_EVENTS = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
  'response.output_text.delta',
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
  'response.completed',
];

beforeAll(async () => {
  fake = await startFakeCodexUpstream();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  await agent.close();
});

describe('fake Codex upstream /responses: the success stream', () => {
  it('partial_images 0: event order, sequence numbers, ids, the final item with result, empty output, image usage', async () => {
    const res = await post({ body: buildResponsesBody({ tool: { partial_images: 0 } }) });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.events.map((e) => e.event)).toEqual([...IMAGE_EVENTS_HEAD, ...IMAGE_EVENTS_TAIL]);
    const events = data(res.events);
    expect(events.map((e) => e.type)).toEqual(res.events.map((e) => e.event));
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const [created, inProgress, added, callInProgress, generating, callCompleted, done, completed] = events;
    expect(created?.response).toMatchObject({
      object: 'response',
      status: 'in_progress',
      model: 'gpt-5.4-mini',
      output: [],
      tool_choice: { type: 'image_generation' },
    });
    expect(created?.response?.tools).toEqual([expect.objectContaining({ type: 'image_generation', model: 'gpt-image-2', size: '1024x1024' })]);
    expect(created?.response?.created_at).toBeCloseTo(Date.now() / 1000, -1);
    expect(inProgress?.response?.id).toBe(created?.response?.id);
    const itemId = added?.item?.id;
    expect(itemId).toMatch(/^ig_/);
    expect(added).toMatchObject({ output_index: 0, item: { type: 'image_generation_call', status: 'in_progress' } });
    for (const e of [callInProgress, generating, callCompleted]) expect(e).toMatchObject({ output_index: 0, item_id: itemId });
    expect(done).toMatchObject({
      output_index: 0,
      item: {
        id: itemId,
        type: 'image_generation_call',
        status: 'completed',
        size: '1024x1024',
        quality: 'high',
        background: 'opaque',
        output_format: 'png',
        revised_prompt: expect.any(String),
      },
    });
    expect(pngSize(done?.item?.result ?? '')).toEqual({ width: 1, height: 1 });
    expect(completed?.response).toMatchObject({ id: created?.response?.id, status: 'completed', output: [], usage: { total_tokens: expect.any(Number) } });
    expect(completed?.response?.tool_usage?.image_gen).toEqual({
      input_tokens: 17,
      input_tokens_details: { image_tokens: 0, text_tokens: 17 },
      output_tokens: 1372,
      output_tokens_details: { image_tokens: 1372, text_tokens: 0 },
      total_tokens: 1389,
    });
    expect(res.text.endsWith('\n\n')).toBe(true);
    expect(fake.requests[0]?.stream).toEqual({ events: res.events.map((e) => e.event), end: 'finished' });
  });

  it('partial_images 2: two partial events (0-based index, valid distinct PNGs, echo fields) between generating and completed', async () => {
    const res = await post({ body: buildResponsesBody({ tool: { partial_images: 2, size: '1536x1024', quality: 'auto' } }) });
    expect(res.events.map((e) => e.event)).toEqual([...IMAGE_EVENTS_HEAD, PARTIAL, PARTIAL, ...IMAGE_EVENTS_TAIL]);
    const events = data(res.events);
    const itemId = events[2]?.item?.id;
    const partials = events.filter((e) => e.type === PARTIAL);
    expect(partials.map((p) => [p.partial_image_index, p.sequence_number, p.output_index, p.item_id])).toEqual([
      [0, 5, 0, itemId],
      [1, 6, 0, itemId],
    ]);
    for (const p of partials) expect(p).toMatchObject({ size: '1536x1024', quality: 'medium', background: 'opaque', output_format: 'png' });
    expect(partials.map((p) => pngSize(p.partial_image_b64 ?? ''))).toEqual([
      { width: 2, height: 2 },
      { width: 3, height: 3 },
    ]);
    expect(events.find((e) => e.type === 'response.output_item.done')?.item).toMatchObject({ size: '1536x1024', quality: 'medium' });
  });

  it('imageBytes sizes the result; extra overrides the echo; usage null drops tool_usage', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.success({ imageBytes: 3 * 1024 * 1024, usage: null, extra: { size: '1024x1536', revised_prompt: undefined } }));
    const res = await post({ body: buildResponsesBody({ tool: { partial_images: 1 } }) });
    const events = data(res.events);
    const item = events.find((e) => e.type === 'response.output_item.done')?.item;
    const result = Buffer.from(item?.result ?? '', 'base64');
    expect([result.length, result.subarray(1, 4).toString()]).toEqual([3 * 1024 * 1024, 'PNG']);
    expect(item).not.toHaveProperty('revised_prompt');
    expect(item?.size).toBe('1024x1536');
    expect(events.find((e) => e.type === PARTIAL)?.size).toBe('1024x1536');
    expect(events.at(-1)?.response).not.toHaveProperty('tool_usage');
  });

  it('reasoningItem puts a reasoning item first (the image call at output_index 1); outputInCompleted lists the item', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.success({ reasoningItem: true, outputInCompleted: true }));
    const res = await post();
    expect(res.events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.output_item.done',
      ...IMAGE_EVENTS_HEAD.slice(2),
      ...IMAGE_EVENTS_TAIL,
    ]);
    const events = data(res.events);
    expect(events[2]).toMatchObject({ output_index: 0, item: { type: 'reasoning' } });
    expect(events[4]).toMatchObject({ output_index: 1, item: { type: 'image_generation_call' } });
    expect(events.at(-1)?.response?.output).toEqual([events.at(-2)?.item]);
  });

  it('timing: delayMs holds the headers, firstEventDelayMs the first event, eventIntervalMs spaces every event', async () => {
    fake.setBehavior('acct-a', [fakeBehaviors.success({ delayMs: 200 }), fakeBehaviors.success({ firstEventDelayMs: 200, eventIntervalMs: 40 })]);
    const sentAt = Date.now();
    const held = await post();
    expect(held.headersAtMs - sentAt).toBeGreaterThanOrEqual(190);
    // Lower bounds from the request only: a chunk read late under load would shorten a gap between chunks.
    const spacedSentAt = Date.now();
    const spaced = await post({ body: buildResponsesBody({ tool: { partial_images: 2 } }) });
    expect((spaced.chunks[0]?.atMs ?? 0) - spacedSentAt).toBeGreaterThanOrEqual(195);
    expect(spaced.chunks.length).toBeGreaterThanOrEqual(10); // one write per event, each after its gap
    expect((spaced.chunks.at(-1)?.atMs ?? 0) - spacedSentAt).toBeGreaterThanOrEqual(200 + 9 * 40 - 5);
    expect(spaced.events).toHaveLength(10);
  });

  it('a request without the image_generation tool gets a text answer (the model cannot call a missing tool)', async () => {
    const res = await post({ body: buildResponsesBody({ over: { tools: [], tool_choice: 'auto' } }) });
    expect(res.events.map((e) => e.event)).toEqual(TEXT_EVENTS);
    expect(data(res.events).some((e) => e.item?.type === 'image_generation_call')).toBe(false);
    expect(data(res.events).find((e) => e.type === 'response.output_text.done')?.text).toEqual(expect.any(String));
  });
});

describe('fake Codex upstream /responses: wire checks', () => {
  it('answers another method with 405', async () => {
    const res = await request(`${fake.baseUrl}/responses`, { dispatcher: agent, method: 'GET' });
    expect([res.statusCode, await res.body.json()]).toEqual([405, { detail: 'Method Not Allowed' }]);
  });

  it.each<[string, ResponsesPostOptions['body'], unknown]>([
    ['stream false', buildResponsesBody({ over: { stream: false } }), { detail: 'Stream must be set to true' }],
    ['store true', buildResponsesBody({ over: { store: true } }), { detail: 'Store must be set to false' }],
    ['missing instructions', buildResponsesBody({ over: { instructions: undefined } }), { detail: 'Instructions are required' }],
    ['a missing model', buildResponsesBody({ over: { model: undefined } }), { detail: 'model: field required' }],
    ['input as a string', buildResponsesBody({ over: { input: 'a red fox' } }), { detail: 'Input must be a list' }],
    ['max_output_tokens', buildResponsesBody({ over: { max_output_tokens: 100 } }), { detail: 'Unsupported parameter: max_output_tokens' }],
    ['n on the tool', buildResponsesBody({ tool: { n: 2 } }), { error: { code: 'unknown_parameter', param: 'tools[0].n' } }],
    ['partial_images 4', buildResponsesBody({ tool: { partial_images: 4 } }), { error: { code: 'invalid_value', param: 'tools[0].partial_images' } }],
    [
      'a forced tool_choice without the tool',
      buildResponsesBody({ over: { tools: [] } }),
      { error: { message: "Tool choice 'image_generation' not found in 'tools' parameter.", param: 'tool_choice' } },
    ],
    [
      'an input_image that is not a data or https URL',
      buildResponsesBody({ over: { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'file:///etc/passwd' }] }] } }),
      { detail: 'input[0].content[0].image_url: invalid image URL' },
    ],
    ['broken JSON', '{"model":', { detail: 'Invalid JSON body' }],
  ])('rejects %s with 400', async (_name, body, expected) => {
    fake.setBehavior('acct-a', [fakeBehaviors.serverError()]);
    const res = await post({ body });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject(expected as object);
    expect(fake.requests[0]?.status).toBe(400);
    expect((await post()).status).toBe(500); // the check did not consume the queued behaviour
  });

  it('applies the same auth and identity checks as the image endpoints', async () => {
    expect((await post({ token: null })).status).toBe(401);
    expect((await post({ token: makeCodexJwt({ accountId: 'acct-a' }), headers: { 'chatgpt-account-id': 'acct-x' } })).status).toBe(401);
    const res = await post({ headers: { 'user-agent': 'node' } });
    expect([res.status, res.text]).toEqual([403, 'error code: 1010']);
  });
});

describe('fake Codex upstream /responses: recording', () => {
  it('records the tool options, top-level fields, input image summaries and the prompt hash, never prompt text or image data', async () => {
    const prompt = 'a secret otter prompt';
    const image = `data:image/png;base64,${Buffer.alloc(300, 7).toString('base64')}`;
    const mask = `data:image/png;base64,${Buffer.alloc(120, 9).toString('base64')}`;
    const body = buildResponsesBody({
      tool: { action: 'edit', partial_images: 2, input_image_mask: { image_url: mask }, input_fidelity: 'high' },
      over: {
        input: [
          {
            type: 'message',
            role: 'user',
            content: [
              { type: 'input_text', text: prompt },
              { type: 'input_image', image_url: image },
              { type: 'input_image', image_url: 'https://example.com/cat.jpg' },
            ],
          },
        ],
      },
    });
    const res = await post({ body, headers: { 'chatgpt-account-id': 'acct-a', session_id: 's-1' } });
    expect(res.status).toBe(200);
    const [seen] = fake.requests;
    expect(seen).toMatchObject({ endpoint: 'responses', path: '/backend-api/codex/responses', accountId: 'acct-a', status: 200 });
    expect(seen?.headers).toMatchObject({ authorization: 'account:acct-a', accept: 'text/event-stream', session_id: 's-1' });
    expect(seen?.body).toEqual({
      fields: {
        model: 'gpt-5.4-mini',
        instructions: '',
        tool_choice: { type: 'image_generation' },
        parallel_tool_calls: true,
        reasoning: { effort: 'medium', summary: 'auto' },
        include: ['reasoning.encrypted_content'],
        store: false,
        stream: true,
      },
      tool: {
        type: 'image_generation',
        action: 'edit',
        model: 'gpt-image-2',
        size: '1024x1024',
        quality: 'high',
        background: 'auto',
        output_format: 'png',
        partial_images: 2,
        input_fidelity: 'high',
      },
      toolTypes: ['image_generation'],
      promptSha256: createHash('sha256').update(prompt).digest('hex'),
      images: [
        { kind: 'data_url', mime: 'image/png', bytes: 300 },
        { kind: 'url', mime: null, bytes: 'https://example.com/cat.jpg'.length },
      ],
      mask: { kind: 'data_url', mime: 'image/png', bytes: 120 },
    });
    const recorded = JSON.stringify(fake.requests);
    for (const leak of [prompt, image.slice(22, 60), mask.slice(22, 60)]) expect(recorded).not.toContain(leak);
    expect(res.text).not.toContain(prompt);
    expect(seen?.stream?.events).toHaveLength(10);
  });
});
