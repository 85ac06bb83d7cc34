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
  /** Pipe the upstream 2xx body through this to the client (made on first use). */
  readonly stream: Transform;
  /**
   * The same work without a stream, for a caller that moves the bytes itself: each chunk's output goes
   * to `emit`, in order. Use either this or `stream`, never both.
   */
  readonly scan: TapScan;
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

/** The tap driven by hand. */
export interface TapScan {
  /** Scans one chunk of the body. @throws UpstreamResponseTooLargeError once the body passes `maxBytes`. */
  write(chunk: Buffer, emit: (bytes: Buffer) => void): void;
  /** Ends the body; resolves once everything is emitted (and, hosted, every image stored). */
  end(emit: (bytes: Buffer) => void): Promise<void>;
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
  const scan: TapScan = {
    write(chunk, emit) {
      bodyBytes += chunk.length;
      if (bodyBytes > opts.maxBytes) throw new UpstreamResponseTooLargeError(opts.maxBytes);
      lexer.write(chunk, emit);
    },
    async end(emit) {
      valid = lexer.end(emit);
      await replacer?.settled();
    },
  };
  let stream: Transform | null = null;

  return {
    get stream() {
      stream ??= buildTapStream(scan);
      return stream;
    },
    scan,
    metrics: () => buildMetrics(bodyBytes, valid === false || lexer.hasFailed() ? null : sink),
    maxHeldChars: () => lexer.maxHeldBytes(),
    keepsLength: opts.responseFormat === 'b64_json',
  };
}

/** The tap as a Transform: what goes in is scanned, what the scan emits comes out. */
function buildTapStream(scan: TapScan): Transform {
  const stream: Transform = new Transform({
    transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback) {
      try {
        scan.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, push);
      } catch (err) {
        return callback(err as Error);
      }
      callback();
    },
    flush(callback: TransformCallback) {
      scan.end(push).then(() => callback(), callback);
    },
  });
  const push = (bytes: Buffer): void => {
    stream.push(bytes);
  };
  return stream;
}

function buildMetrics(bodyBytes: number, sink: ImageResponseSink | null): ResponseMetrics {
  if (!sink) {
    return { bodyBytes, imageCount: null, imageBytes: 0, usage: null, size: null, quality: null, outputFormat: null, background: null };
  }
  return { bodyBytes, ...sink.facts() };
}
