/**
 * The SSE events of a Codex Responses stream with the `image_generation` tool, built
 * as bytes: response.created, response.in_progress, [a reasoning item], response.output_item.added
 * (image_generation_call), response.image_generation_call.in_progress / .generating, one
 * .partial_image per requested partial, .completed, response.output_item.done (the item with
 * `result`), response.completed (`response.output` empty, image usage in
 * `response.tool_usage.image_gen`). Also the text-only answer and the failure events. Pure.
 */
import type { StreamPoint, SuccessOptions } from './behaviors.js';
import { buildUsage, DEFAULT_USAGE_PER_IMAGE, imageBase64 } from './image-body.js';
import { makePng } from '../images.js';

/** One SSE event: its type (the `event:` name and the data's `type`) and its bytes in parts (a large image stays one shared Buffer). */
export interface SseEvent {
  type: string;
  parts: Buffer[];
}

/** What the stream echoes of the request, and how it is shaped. */
export interface StreamInput {
  /** Distinguishes this stream's ids (`resp_fake_<id>`, `ig_fake_<id>`, …). */
  id: number;
  createdAtSeconds: number;
  /** The host model of the request. */
  model: string;
  /** The request's `tool_choice` (echoed; null when absent). */
  toolChoice: unknown;
  /** The request's `image_generation` tool options (without the mask), or null. */
  tool: Record<string, unknown> | null;
  options: SuccessOptions;
}

/** What the item echoes when the request says `auto` or nothing (as a captured Codex response does). */
export const ECHO_DEFAULTS = { background: 'opaque', output_format: 'png', quality: 'medium', size: '1024x1024' } as const;

/** The item's `revised_prompt`: a constant, so no prompt text ever travels back. */
export const FAKE_REVISED_PROMPT = 'A revised prompt written by the fake upstream.';

/** Usage of the host chat model (`response.usage`), separate from the image usage. */
export const HOST_USAGE = {
  input_tokens: 1024,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 64,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 1088,
} as const;

const RESULT_VALUE = '__FAKE_RESULT__';
const RESULT_PLACEHOLDER = JSON.stringify(RESULT_VALUE);

/** A valid PNG for partial image `index`: (index+2)×(index+2) pixels, so each partial differs from the others and from the result. */
export function partialPngBase64(index: number): string {
  return makePng(index + 2, index + 2).toString('base64');
}

const frame = (type: string, json: string): Buffer => Buffer.from(`event: ${type}\ndata: ${json}\n\n`);

/** Numbers events as they are added (`sequence_number` runs over the whole stream from 0). */
class EventList {
  readonly events: SseEvent[] = [];

  add(type: string, fields: Record<string, unknown>): void {
    const json = JSON.stringify({ type, sequence_number: this.events.length, ...fields });
    this.events.push({ type, parts: [frame(type, json)] });
  }

  /** Adds an event whose RESULT_VALUE string is replaced by `bytes` (base64 sent as is, not copied into the JSON). */
  addWithBytes(type: string, fields: Record<string, unknown>, bytes: Buffer): void {
    const whole = frame(type, JSON.stringify({ type, sequence_number: this.events.length, ...fields })).toString();
    const start = whole.indexOf(RESULT_PLACEHOLDER);
    if (start < 0) throw new Error('fake-codex: result placeholder missing');
    const head = Buffer.from(`${whole.slice(0, start)}"`);
    const tail = Buffer.from(`"${whole.slice(start + RESULT_PLACEHOLDER.length)}`);
    this.events.push({ type, parts: [head, bytes, tail] });
  }
}

const ids = (input: StreamInput) => ({
  response: `resp_fake_${input.id}`,
  image: `ig_fake_${input.id}`,
  reasoning: `rs_fake_${input.id}`,
  message: `msg_fake_${input.id}`,
});

/** The `response` object of the lifecycle events (tools echoed without image data). */
function responseObject(input: StreamInput, status: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: ids(input).response,
    object: 'response',
    created_at: input.createdAtSeconds,
    status,
    error: null,
    model: input.model,
    output: [],
    store: false,
    tool_choice: input.toolChoice ?? 'auto',
    tools: input.tool ? [{ type: 'image_generation', ...input.tool }] : [],
    usage: null,
    ...extra,
  };
}

/** The echo fields of the final item: the request's concrete values, `ECHO_DEFAULTS` for `auto`/absent, then `extra`. */
function itemEcho(input: StreamInput): Record<string, unknown> {
  const echo: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(ECHO_DEFAULTS)) {
    const asked = input.tool?.[key];
    echo[key] = typeof asked === 'string' && asked !== 'auto' ? asked : fallback;
  }
  return { revised_prompt: FAKE_REVISED_PROMPT, ...echo, ...input.options.extra };
}

/** The requested `partial_images` (0..3; the body check refuses anything else). */
export function requestedPartials(tool: Record<string, unknown> | null): number {
  const n = tool?.partial_images;
  return typeof n === 'number' && Number.isInteger(n) ? Math.min(Math.max(n, 0), 3) : 0;
}

function addStart(list: EventList, input: StreamInput): number {
  list.add('response.created', { response: responseObject(input, 'in_progress') });
  list.add('response.in_progress', { response: responseObject(input, 'in_progress') });
  if (!input.options.reasoningItem) return 0;
  const item = { id: ids(input).reasoning, type: 'reasoning', summary: [] };
  list.add('response.output_item.added', { output_index: 0, item });
  list.add('response.output_item.done', { output_index: 0, item: { ...item, encrypted_content: 'ZmFrZQ==' } });
  return 1;
}

/** The whole success stream of one image (see the file comment). */
export function buildImageStream(input: StreamInput): SseEvent[] {
  const list = new EventList();
  const outputIndex = addStart(list, input);
  const itemId = ids(input).image;
  const at = { output_index: outputIndex, item_id: itemId };
  list.add('response.output_item.added', { output_index: outputIndex, item: { id: itemId, type: 'image_generation_call', status: 'in_progress' } });
  list.add('response.image_generation_call.in_progress', at);
  list.add('response.image_generation_call.generating', at);
  const echo = itemEcho(input);
  const partialEcho = { size: echo.size, quality: echo.quality, background: echo.background, output_format: echo.output_format };
  for (let i = 0; i < requestedPartials(input.tool); i += 1) {
    list.add('response.image_generation_call.partial_image', { ...at, partial_image_index: i, partial_image_b64: partialPngBase64(i), ...partialEcho });
  }
  list.add('response.image_generation_call.completed', at);
  // `result` keeps its place in the key order; `extra` cannot replace it.
  const item: Record<string, unknown> = { id: itemId, type: 'image_generation_call', status: 'completed', result: null, ...echo };
  item.result = RESULT_VALUE;
  list.addWithBytes('response.output_item.done', { output_index: outputIndex, item }, imageBase64(input.options.imageBytes));
  const usage = input.options.usage === null ? {} : { tool_usage: { image_gen: buildUsage(input.options.usage ?? DEFAULT_USAGE_PER_IMAGE, 1) } };
  const output = input.options.outputInCompleted ? { output: [item] } : {};
  const completed = { response: responseObject(input, 'completed', { usage: HOST_USAGE, ...usage, ...output }) };
  if (input.options.outputInCompleted) list.addWithBytes('response.completed', completed, imageBase64(input.options.imageBytes));
  else list.add('response.completed', completed);
  return list.events;
}

/** A stream where the host model answers `text` and never calls the tool. */
export function buildTextStream(input: StreamInput, text: string): SseEvent[] {
  const list = new EventList();
  const outputIndex = addStart(list, input);
  const itemId = ids(input).message;
  const part = { type: 'output_text', text, annotations: [] };
  const item = { id: itemId, type: 'message', role: 'assistant', status: 'completed', content: [part] };
  const at = { output_index: outputIndex, item_id: itemId, content_index: 0 };
  list.add('response.output_item.added', { output_index: outputIndex, item: { ...item, status: 'in_progress', content: [] } });
  list.add('response.content_part.added', { ...at, part: { ...part, text: '' } });
  list.add('response.output_text.delta', { ...at, delta: text });
  list.add('response.output_text.done', { ...at, text });
  list.add('response.content_part.done', { ...at, part });
  list.add('response.output_item.done', { output_index: outputIndex, item });
  const output = input.options.outputInCompleted ? { output: [item] } : {};
  list.add('response.completed', { response: responseObject(input, 'completed', { usage: HOST_USAGE, ...output }) });
  return list.events;
}

/** Index of the first event NOT sent when a stream stops at `point` (see StreamPoint). */
export function streamPointIndex(events: readonly SseEvent[], point: StreamPoint): number {
  if (point === 'start') return 0;
  if (point === 'item') return events.findIndex((e) => e.type === 'response.completed');
  const generating = events.findIndex((e) => e.type === 'response.image_generation_call.generating');
  const partials = events.filter((e) => e.type === 'response.image_generation_call.partial_image').length;
  return generating + 1 + Math.min(Math.max(point, 0), partials);
}

/** `response.failed` with `sequenceNumber`: the response's status `failed` and its `error`. */
export function buildFailedEvent(input: StreamInput, sequenceNumber: number, error: { code: string; message: string }): SseEvent {
  const json = JSON.stringify({ type: 'response.failed', sequence_number: sequenceNumber, response: responseObject(input, 'failed', { error }) });
  return { type: 'response.failed', parts: [frame('response.failed', json)] };
}

/** An `error` event (ResponseErrorEvent: `{type, code, message, param, sequence_number}`). */
export function buildErrorEvent(sequenceNumber: number, error: { code: string; message: string }): SseEvent {
  const json = JSON.stringify({ type: 'error', sequence_number: sequenceNumber, code: error.code, message: error.message, param: null });
  return { type: 'error', parts: [frame('error', json)] };
}
