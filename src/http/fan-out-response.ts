import { Writable, type Readable, type Transform } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { FinalResult } from '../dispatch/run-fan-out.js';
import { isJsonObject } from '../guards/is-json-object.js';
import { buildCompletedEvent, type ImageEventDefaults } from '../images/image-stream-events.js';
import type { ImageRequest } from '../images/image-request.js';
import type { ResponseMetrics } from '../observe/image-log-event.js';
import { buildUpstreamErrorResponse, readUpstreamError, type UpstreamErrorInfo } from '../upstream/upstream-error.js';
import { createRequestTap } from './send-upstream-response.js';

/** What one part of a fanned-out request brought back; its account permit is released by then. */
export type PartBody =
  | { kind: 'image'; json: ImagesResponseBody; metrics: ResponseMetrics }
  | { kind: 'upstream_error'; status: number; info: UpstreamErrorInfo }
  | { kind: 'broken'; metrics: ResponseMetrics | null; streamError: 'upstream_body' | 'response_too_large' | 'client_aborted' };

/** The parts of an Images API body the gateway recombines; anything else at the top level is kept from the first part. */
interface ImagesResponseBody {
  created?: unknown;
  data?: unknown;
  usage?: unknown;
  [key: string]: unknown;
}

/** The response headers that say how many images a fanned-out request asked for and got. */
export const FAN_OUT_HEADERS = { requested: 'x-gateway-images-requested', produced: 'x-gateway-images-produced' } as const;

export interface PartReadOptions {
  maxResponseBytes: number;
  idleTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * Reads a part's final upstream answer and releases its account permit. A 2xx body goes through the
 * same response tap as a plain response (counts, usage, `url` rewrite) into memory: the parts must
 * all be in before the status can be chosen. Memory is bounded by UPSTREAM_MAX_RESPONSE_BYTES per
 * part, and parts in flight by the accounts' image caps.
 */
export async function readPartBody(result: FinalResult, request: ImageRequest, opts: PartReadOptions): Promise<PartBody> {
  const { response, permit } = result;
  try {
    if (response.status < 200 || response.status >= 300) {
      const info = await readUpstreamError(response.body, response.status);
      return { kind: 'upstream_error', status: response.status >= 400 ? response.status : 502, info };
    }
    const tap = createRequestTap(request, opts.maxResponseBytes);
    const collected = await collect(response.body, tap.stream, opts).then(
      (bytes) => ({ ok: true as const, bytes }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    if (!collected.ok) return { kind: 'broken', metrics: tap.metrics(), streamError: classifyPartError(collected.err, opts.signal) };
    const json = parseBody(collected.bytes);
    if (json === null) return { kind: 'broken', metrics: tap.metrics(), streamError: 'upstream_body' };
    return { kind: 'image', json, metrics: tap.metrics() };
  } finally {
    permit.release();
  }
}

/**
 * Answers a fanned-out request: 200 with every image that was produced (in part order) and the
 * summed usage (called when at least one part succeeded), with headers saying how many images were
 * asked for and produced. Returns how many images it sent.
 */
export async function sendFanOutResponse(reply: FastifyReply, images: readonly ImagesResponseBody[], requested: number): Promise<number> {
  const body = combineImagesResponses(images);
  const produced = Array.isArray(body.data) ? body.data.length : 0;
  await reply
    .code(200)
    .headers({
      [FAN_OUT_HEADERS.requested]: String(requested),
      [FAN_OUT_HEADERS.produced]: String(produced),
      'cache-control': 'no-store',
    })
    .type('application/json')
    .send(JSON.stringify(body));
  return produced;
}

/** Answers with the first part's upstream error, as a plain request would have. */
export async function sendPartError(reply: FastifyReply, part: Extract<PartBody, { kind: 'upstream_error' }>): Promise<number> {
  const built = buildUpstreamErrorResponse(part.status, part.info);
  await reply
    .code(built.status)
    .headers({ ...built.headers, 'x-should-retry': 'false' })
    .send(built.body);
  return built.status;
}

/**
 * One Images API body from several: the first part's top-level fields (`created`, echoed `size`,
 * `quality`, …), every part's `data[]` entries in order, and the sum of every numeric `usage` field.
 */
export function combineImagesResponses(parts: readonly ImagesResponseBody[]): ImagesResponseBody {
  const [first] = parts;
  const data = parts.flatMap((part) => (Array.isArray(part.data) ? part.data : []));
  const usages = parts.map((part) => part.usage).filter((usage) => usage !== undefined && usage !== null);
  return { ...first, data, ...(usages.length > 0 ? { usage: sumNumericFields(usages) } : {}) };
}

/** Sums numbers field by field through nested objects (`input_tokens_details.image_tokens`, …). */
export function sumNumericFields(values: readonly unknown[]): unknown {
  const objects = values.filter(isJsonObject);
  if (objects.length === 0) return values.filter((v): v is number => typeof v === 'number').reduce((a, b) => a + b, 0);
  const keys = [...new Set(objects.flatMap((o) => Object.keys(o)))];
  return Object.fromEntries(keys.map((key) => [key, sumNumericFields(objects.map((o) => o[key]).filter((v) => v !== undefined))]));
}

/**
 * Sums the metrics of the parts that produced images (echoed fields from the first): each count over
 * the parts that reported it, null when none did, exactly as combineImagesResponses sums the body the
 * client gets. So the usage recorded for the request is the usage its answer shows, also when a part
 * came back without `usage`.
 */
export function combinePartMetrics(metrics: readonly ResponseMetrics[]): ResponseMetrics | null {
  const [first] = metrics;
  if (!first) return null;
  const add = (pick: (m: ResponseMetrics) => number | null | undefined): number | null =>
    metrics.reduce<number | null>((sum, m) => (pick(m) == null ? sum : (sum ?? 0) + pick(m)!), null);
  const usage = metrics.every((m) => m.usage === null)
    ? null
    : {
        inputTokens: add((m) => m.usage?.inputTokens),
        outputTokens: add((m) => m.usage?.outputTokens),
        totalTokens: add((m) => m.usage?.totalTokens),
        imageInputTokens: add((m) => m.usage?.imageInputTokens),
      };
  return {
    ...first,
    bodyBytes: metrics.reduce((sum, m) => sum + m.bodyBytes, 0),
    imageCount: add((m) => m.imageCount),
    imageBytes: metrics.reduce((sum, m) => sum + m.imageBytes, 0),
    usage,
  };
}

/**
 * The `*.completed` events of one part's body already in memory: one per `data[]` entry with a
 * `b64_json`, each with the part's echoes and usage (within the stream enums), and how many.
 */
export function buildPartEvents(
  part: Extract<PartBody, { kind: 'image' }>,
  type: string,
  defaults: ImageEventDefaults,
  createdAt: number,
): { events: string; count: number } {
  const images = (Array.isArray(part.json.data) ? part.json.data : []).flatMap((item) => {
    const b64 = typeof item === 'object' && item !== null ? (item as { b64_json?: unknown }).b64_json : undefined;
    return typeof b64 === 'string' ? [b64] : [];
  });
  const trailer = { facts: part.metrics, details: readInputTokenDetails(part.json.usage), defaults, createdAt };
  return { events: images.map((b64) => buildCompletedEvent(type, b64, trailer)).join(''), count: images.length };
}

/** `usage.input_tokens_details` of a parsed body, when its counts are numbers. */
function readInputTokenDetails(usage: unknown): { textTokens: number | null; imageTokens: number | null } | null {
  const details = typeof usage === 'object' && usage !== null ? (usage as { input_tokens_details?: unknown }).input_tokens_details : undefined;
  if (typeof details !== 'object' || details === null) return null;
  const count = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);
  const { text_tokens: text, image_tokens: image } = details as { text_tokens?: unknown; image_tokens?: unknown };
  return { textTokens: count(text), imageTokens: count(image) };
}

function parseBody(bytes: Buffer): ImagesResponseBody | null {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return isJsonObject(value) ? (value as ImagesResponseBody) : null;
  } catch {
    return null;
  }
}

function classifyPartError(err: unknown, signal: AbortSignal): Extract<PartBody, { kind: 'broken' }>['streamError'] {
  if (signal.aborted) return 'client_aborted';
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'UPSTREAM_RESPONSE_TOO_LARGE' ? 'response_too_large' : 'upstream_body';
}

/** Pipes body → tap into memory; fails on the first error, on the client going away, or after `idleTimeoutMs` of silence. */
function collect(source: Readable, tap: Transform, opts: PartReadOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      opts.signal.removeEventListener('abort', onAbort);
      source.destroy();
      tap.destroy();
      reject(err);
    };
    const onAbort = () => fail(new Error('client closed the connection'));
    const idle = setTimeout(() => fail(Object.assign(new Error('upstream went quiet'), { code: 'UPSTREAM_STALLED' })), opts.idleTimeoutMs);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        idle.refresh();
        chunks.push(chunk);
        callback();
      },
    });
    opts.signal.addEventListener('abort', onAbort, { once: true });
    source.once('error', fail);
    tap.once('error', fail);
    sink.once('finish', () => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      opts.signal.removeEventListener('abort', onAbort);
      resolve(Buffer.concat(chunks));
    });
    source.pipe(tap).pipe(sink);
  });
}
