import { Transform, type TransformCallback } from 'node:stream';
import type { ResponseMetrics } from './image-log-event.js';
import type { ImageMime } from '../images/image-request.js';
import { createHostedImageReplacer, type HostedImageStore } from './hosted-image-replacer.js';
import { ImageResponseSink } from './image-response-sink.js';
import { JsonStreamLexer } from '../json/json-stream-lexer.js';

/** Raised by the tap's stream when the body passes `maxBytes`; `code` is stable for classification. */
export class UpstreamResponseTooLargeError extends Error {
  readonly code = 'UPSTREAM_RESPONSE_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(`upstream response body exceeds ${maxBytes} bytes`);
    this.name = 'UpstreamResponseTooLargeError';
  }
}

export interface ResponseTapOptions {
  /** `url`: rewrite each `data[i].b64_json` to `data[i].url` holding a data URL. */
  responseFormat: 'b64_json' | 'url';
  /**
   * MIME type of a data URL whose image bytes are not a PNG, JPEG or WebP (the requested format);
   * known images are typed by their magic bytes. Checked to be a plain `type/subtype`.
   */
  urlFallbackMime: string;
  /** Most body bytes let through; past it the stream errors with UpstreamResponseTooLargeError. */
  maxBytes: number;
  /**
   * With `responseFormat: 'url'`: host the images instead of writing data URLs. Each `b64_json` value
   * becomes its hosted URL (`fallbackType` when the bytes are not a PNG, JPEG or WebP), and the stream
   * ends only once every image is stored (else it errors with HostedResultStoreError).
   */
  hosted?: { store: HostedImageStore; fallbackType: ImageMime };
}

export interface ResponseTap {
  /** Pipe the upstream 2xx body through this to the client. */
  stream: Transform;
  /**
   * What the body said. Once the body proves not to be one valid JSON value (bad syntax, or
   * incomplete at its end), everything but `bodyBytes` is null/0. Before the end of a body that is
   * valid so far (aborted or oversize): what was learned so far.
   */
  metrics(): ResponseMetrics;
  /** Most bytes the scanner ever held at once; a debug figure that proves memory does not follow image size. */
  maxHeldChars(): number;
  /** True when every byte passes unchanged (`b64_json`), so the body keeps the upstream's length. */
  readonly keepsLength: boolean;
}

/** RFC 6838 restricted names: nothing that could break out of a JSON string. */
const MIME_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

/**
 * Measures an upstream Images API body while streaming it to the client as it arrives: image count,
 * decoded image bytes, usage and echoed options, without holding the body (see json-stream-lexer.ts).
 * With `responseFormat: 'url'` it rewrites `b64_json` members into `url` data URLs in flight; every
 * other byte passes unchanged, and a body that is not JSON passes through untouched. With `hosted`,
 * the values become hosted URLs instead (the image bytes are sealed as they stream, never held whole).
 * @throws TypeError when `urlFallbackMime` is not a plain MIME type or `maxBytes` is not positive.
 */
export function createResponseTap(opts: ResponseTapOptions): ResponseTap {
  if (!MIME_PATTERN.test(opts.urlFallbackMime)) {
    throw new TypeError(`urlFallbackMime must be a type/subtype MIME name, got ${JSON.stringify(opts.urlFallbackMime)}`);
  }
  if (!(opts.maxBytes > 0)) throw new TypeError(`maxBytes must be positive, got ${opts.maxBytes}`);
  const replacer = opts.responseFormat === 'url' && opts.hosted ? createHostedImageReplacer(opts.hosted.store, opts.hosted.fallbackType) : null;
  const dataUrlMime = opts.responseFormat === 'url' && !replacer ? opts.urlFallbackMime : null;
  const sink = new ImageResponseSink(dataUrlMime, null, replacer);
  const lexer = new JsonStreamLexer(sink);
  let bodyBytes = 0;
  let valid: boolean | null = null;

  const stream = new Transform({
    transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bodyBytes += bytes.length;
      if (bodyBytes > opts.maxBytes) return callback(new UpstreamResponseTooLargeError(opts.maxBytes));
      lexer.write(bytes, push);
      callback();
    },
    flush(callback: TransformCallback) {
      valid = lexer.end(push);
      if (!replacer) return callback();
      replacer.settled().then(() => callback(), callback);
    },
  });
  const push = (bytes: Buffer): void => {
    stream.push(bytes);
  };

  return {
    stream,
    metrics: () => buildMetrics(bodyBytes, valid === false || lexer.hasFailed() ? null : sink),
    maxHeldChars: () => lexer.maxHeldBytes(),
    keepsLength: opts.responseFormat === 'b64_json',
  };
}

function buildMetrics(bodyBytes: number, sink: ImageResponseSink | null): ResponseMetrics {
  if (!sink) {
    return { bodyBytes, imageCount: null, imageBytes: 0, usage: null, size: null, quality: null, outputFormat: null, background: null };
  }
  return { bodyBytes, ...sink.facts() };
}
