import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { isJsonObject } from '../guards/is-json-object.js';
import { redactUpstreamMessage } from './upstream-error.js';

/** What an image item or a partial image said about itself (each null when absent or not a string). */
export interface ImageEchoes {
  size: string | null;
  quality: string | null;
  background: string | null;
  outputFormat: string | null;
}

/** The image model's usage (`response.tool_usage.image_gen`). */
export interface ImageToolUsage {
  inputTokens: number | null;
  outputTokens: number | null;
  totalTokens: number | null;
  textTokens: number | null;
  imageTokens: number | null;
}

/**
 * What matters in a Codex Responses stream for images, in order:
 * - `partial`: a `response.image_generation_call.partial_image`;
 * - `image`: the final `image_generation_call` item with its `result`;
 * - `completed`: `response.completed`, with the image model's usage (and an image listed in
 *   `response.output`, which takes precedence when present);
 * - `failed`: `response.failed` or an `error` event (message redacted).
 * A stream that ends without `completed` or `failed` simply stops yielding: the caller decides.
 */
export type ResponsesImageEvent =
  | { kind: 'partial'; index: number; b64: string; echoes: ImageEchoes }
  | { kind: 'image'; b64: string; echoes: ImageEchoes }
  | { kind: 'completed'; usage: ImageToolUsage | null; outputImage: { b64: string; echoes: ImageEchoes } | null }
  | { kind: 'failed'; code: string | null; message: string };

type Json = Record<string, unknown>;

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

const echoesOf = (o: Json): ImageEchoes => ({
  size: text(o.size),
  quality: text(o.quality),
  background: text(o.background),
  outputFormat: text(o.output_format),
});

/**
 * Reads a Responses SSE body and yields the image events. Lines are read one at a time (an event's
 * `data:` line holds one image, so memory is bounded by the largest image, which the upstream
 * client caps); events of other types are skipped; a `data:` line that is not JSON is skipped too.
 */
export async function* readResponsesImageEvents(body: Readable): AsyncGenerator<ResponsesImageEvent> {
  let data: string[] = [];
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    if (line.startsWith('data:')) {
      data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      continue;
    }
    if (line !== '' || data.length === 0) continue;
    const event = parseEvent(data.join('\n'));
    data = [];
    if (event) yield event;
  }
  const last = data.length > 0 ? parseEvent(data.join('\n')) : null;
  if (last) yield last;
}

function parseEvent(payload: string): ResponsesImageEvent | null {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return null;
  }
  return isJsonObject(json) ? toImageEvent(json) : null;
}

/** Maps one parsed event onto what the gateway needs, or null for any other event. */
export function toImageEvent(event: Json): ResponsesImageEvent | null {
  switch (event.type) {
    case 'response.image_generation_call.partial_image': {
      const b64 = text(event.partial_image_b64);
      return b64 === null ? null : { kind: 'partial', index: count(event.partial_image_index) ?? 0, b64, echoes: echoesOf(event) };
    }
    case 'response.output_item.done':
      return isJsonObject(event.item) ? imageOfItem(event.item) : null;
    case 'response.completed': {
      const response = isJsonObject(event.response) ? event.response : {};
      const output = Array.isArray(response.output)
        ? response.output
            .filter(isJsonObject)
            .map(imageOfItem)
            .find((i) => i !== null)
        : null;
      return { kind: 'completed', usage: toolUsageOf(response), outputImage: output ? { b64: output.b64, echoes: output.echoes } : null };
    }
    case 'response.failed': {
      const error = isJsonObject(event.response) && isJsonObject(event.response.error) ? event.response.error : {};
      return failed(error, 'the upstream image generation failed');
    }
    case 'error':
      return failed(isJsonObject(event.error) ? event.error : event, 'the upstream stream reported an error');
    default:
      return null;
  }
}

function imageOfItem(item: Json): Extract<ResponsesImageEvent, { kind: 'image' }> | null {
  const b64 = text(item.result);
  return item.type === 'image_generation_call' && b64 !== null && b64 !== '' ? { kind: 'image', b64, echoes: echoesOf(item) } : null;
}

function toolUsageOf(response: Json): ImageToolUsage | null {
  const usage = isJsonObject(response.tool_usage) && isJsonObject(response.tool_usage.image_gen) ? response.tool_usage.image_gen : null;
  if (!usage) return null;
  const details = isJsonObject(usage.input_tokens_details) ? usage.input_tokens_details : {};
  return {
    inputTokens: count(usage.input_tokens),
    outputTokens: count(usage.output_tokens),
    totalTokens: count(usage.total_tokens),
    textTokens: count(details.text_tokens),
    imageTokens: count(details.image_tokens),
  };
}

function failed(error: Json, fallback: string): Extract<ResponsesImageEvent, { kind: 'failed' }> {
  const message = text(error.message);
  return { kind: 'failed', code: text(error.code), message: message ? redactUpstreamMessage(message) : fallback };
}
