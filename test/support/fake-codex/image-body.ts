/**
 * The fake's success answer: a Codex images-endpoint body, written in chunks with backpressure so
 * multi-megabyte bodies really stream, optionally stalling part-way.
 */
import type { ServerResponse } from 'node:http';
import type { FakeUsage, SuccessOptions } from './behaviors.js';

/** A real 1x1 PNG, the default image. */
export const TINY_PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Default usage per image (as in a captured Codex response). */
export const DEFAULT_USAGE_PER_IMAGE = { input_tokens: 17, output_tokens: 1372 } as const;

const DATA_PLACEHOLDER = '"__FAKE_DATA__"';

const base64Cache = new Map<number, Buffer>();

/** Base64 (as ASCII bytes) of `imageBytes` bytes: the PNG signature, then a repeating pattern. Cached per size. */
export function imageBase64(imageBytes: number | undefined): Buffer {
  if (imageBytes === undefined) return Buffer.from(TINY_PNG_BASE64, 'ascii');
  const cached = base64Cache.get(imageBytes);
  if (cached) return cached;
  const raw = Buffer.alloc(imageBytes);
  for (let i = 0; i < imageBytes; i += 1) raw[i] = i < PNG_SIGNATURE.length ? (PNG_SIGNATURE[i] ?? 0) : (i * 31) & 0xff;
  const encoded = Buffer.from(raw.toString('base64'), 'ascii');
  if (base64Cache.size > 8) base64Cache.clear();
  base64Cache.set(imageBytes, encoded);
  return encoded;
}

/** The `usage` object for `count` images: totals from `perImage` times count, details image-only by default. */
export function buildUsage(perImage: FakeUsage, count: number): Record<string, unknown> {
  const input = perImage.input_tokens * count;
  const output = perImage.output_tokens * count;
  return {
    input_tokens: input,
    input_tokens_details: perImage.input_tokens_details ?? { image_tokens: 0, text_tokens: input },
    output_tokens: output,
    output_tokens_details: perImage.output_tokens_details ?? { image_tokens: output, text_tokens: 0 },
    total_tokens: perImage.total_tokens === undefined ? input + output : perImage.total_tokens * count,
  };
}

/** The body split around `data`: JSON before, the list of image payloads, JSON after. */
export function buildSuccessParts(options: SuccessOptions, count: number, nowMs: number): { head: Buffer; image: Buffer; count: number; tail: Buffer } {
  const usage = options.usage === null ? {} : { usage: buildUsage(options.usage ?? DEFAULT_USAGE_PER_IMAGE, count) };
  const whole = {
    created: Math.floor(nowMs / 1000),
    background: 'opaque',
    data: null as unknown,
    output_format: 'png',
    quality: 'medium',
    size: '1024x1024',
    ...usage,
    ...options.extra,
  };
  // `data` keeps its place in the key order; `extra` cannot replace it.
  const json = JSON.stringify({ ...whole, data: '__FAKE_DATA__' });
  const at = json.indexOf(DATA_PLACEHOLDER);
  return {
    head: Buffer.from(`${json.slice(0, at)}[`),
    image: imageBase64(options.imageBytes),
    count,
    tail: Buffer.from(`]${json.slice(at + DATA_PLACEHOLDER.length)}`),
  };
}

/** The exact byte length of the body the parts make. */
export function successBodyBytes(parts: ReturnType<typeof buildSuccessParts>): number {
  const perImage = '{"b64_json":""}'.length + parts.image.length;
  return parts.head.length + parts.count * perImage + Math.max(0, parts.count - 1) + parts.tail.length;
}

/** Resolves after `ms`, or as soon as the response closes; true when the response is still open. */
export function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = (): void => {
      if (timer) clearTimeout(timer);
      resolve(false);
    };
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          res.off('close', onClose);
          resolve(!res.destroyed);
        }, ms)
      : null;
    res.once('close', onClose);
  });
}

/** Writes a chunk, waiting for `drain` (or close) when the socket buffer is full; false once closed. */
export async function writeChunk(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  return new Promise((resolve) => {
    const done = (open: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(open);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

function* bodyChunks(parts: ReturnType<typeof buildSuccessParts>, chunkBytes: number): Generator<Buffer> {
  yield parts.head;
  for (let i = 0; i < parts.count; i += 1) {
    yield Buffer.from(i === 0 ? '{"b64_json":"' : ',{"b64_json":"');
    for (let at = 0; at < parts.image.length; at += chunkBytes) yield parts.image.subarray(at, at + chunkBytes);
    yield Buffer.from('"}');
  }
  yield parts.tail;
}

export interface WriteSuccessOptions {
  chunkBytes: number;
  /** Send Transfer-Encoding: chunked instead of Content-Length. */
  chunked: boolean;
  /** Go silent after the first image chunk for this long (Infinity = until the client leaves). */
  stallMs?: number;
}

/** Sends 200 and the body in chunks; stops quietly if the client goes away. */
export async function writeSuccess(res: ServerResponse, parts: ReturnType<typeof buildSuccessParts>, opts: WriteSuccessOptions): Promise<void> {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  if (!opts.chunked) res.setHeader('content-length', successBodyBytes(parts));
  res.flushHeaders();
  let written = 0;
  for (const chunk of bodyChunks(parts, opts.chunkBytes)) {
    if (!(await writeChunk(res, chunk))) return;
    written += 1;
    if (opts.stallMs !== undefined && written === 3 && !(await waitUnlessClosed(res, opts.stallMs))) return;
  }
  res.end();
}
