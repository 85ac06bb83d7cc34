import { Transform, type TransformCallback } from 'node:stream';
import type { ResponseMetrics } from './image-log-event.js';
import { ImageResponseSink } from './image-response-sink.js';
import { JsonStreamLexer } from '../json/json-stream-lexer.js';
import { UpstreamResponseTooLargeError } from './response-tap.js';
import { buildEventHead, buildEventTrailer, type ImageEventDefaults } from '../images/image-stream-events.js';

export interface ImageEventTapOptions {
  /** `image_generation` or `image_edit`: the event type's prefix. */
  eventPrefix: 'image_generation' | 'image_edit';
  /** What each completed event says where the upstream body echoed nothing usable. */
  defaults: ImageEventDefaults;
  /** Most body bytes let through; past it the stream errors with UpstreamResponseTooLargeError. */
  maxBytes: number;
  /** Seconds since the epoch for `created_at` (injected so tests are exact). */
  nowSeconds: () => number;
}

export interface ImageEventTap {
  /** Pipe the upstream 2xx Images API body through this; out come `*.completed` SSE events. */
  stream: Transform;
  /** What the body said (as the response tap reports it). */
  metrics(): ResponseMetrics;
  /** How many completed events were written. */
  eventsWritten(): number;
  /** True while an event's data line is unfinished (the body broke off inside an image). */
  eventOpen(): boolean;
}

/**
 * Turns an upstream Images API JSON body into Images API stream events as it arrives: each
 * `data[i].b64_json` becomes one `<prefix>.completed` event whose `b64_json` is copied through in
 * pieces, never held whole, so memory stays flat in image size. The event's other fields (`size`,
 * `quality`, `background`, `output_format`, `usage`) come after the image in the event and are
 * written once known: at the next image, or at the end of the body. Nothing else of the body is
 * written; a body that is not an Images API response yields no event (see `eventsWritten`).
 */
export function createImageEventTap(opts: ImageEventTapOptions): ImageEventTap {
  let bodyBytes = 0;
  let valid: boolean | null = null;
  let open = false;
  let ended = false;
  let events = 0;
  const push = (bytes: Buffer | string) => void stream.push(bytes);
  const close = () => {
    push(buildEventTrailer({ facts: sink.facts(), details: sink.inputTokenDetails(), defaults: opts.defaults, createdAt: opts.nowSeconds() }));
    open = false;
    ended = false;
    events += 1;
  };
  const begin = () => {
    if (ended) close();
    if (!open) push(buildEventHead(`${opts.eventPrefix}.completed`));
    open = true;
  };
  const sink = new ImageResponseSink(null, {
    onImageBytes: (raw) => {
      begin();
      push(raw);
    },
    onImageEnd: () => {
      begin();
      ended = true;
    },
  });
  const lexer = new JsonStreamLexer(sink);
  const ignore = () => undefined;
  const stream = new Transform({
    transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bodyBytes += bytes.length;
      if (bodyBytes > opts.maxBytes) return callback(new UpstreamResponseTooLargeError(opts.maxBytes));
      lexer.write(bytes, ignore);
      callback();
    },
    flush(callback: TransformCallback) {
      valid = lexer.end(ignore);
      // An image cut off by the end of the body is not a completed image: no trailer for it.
      if (ended && valid) close();
      callback();
    },
  });
  return {
    stream,
    metrics: () => (valid === false || lexer.hasFailed() ? { ...EMPTY_FACTS, bodyBytes } : { bodyBytes, ...sink.facts() }),
    eventsWritten: () => events,
    eventOpen: () => open,
  };
}

const EMPTY_FACTS: Omit<ResponseMetrics, 'bodyBytes'> = {
  imageCount: null,
  imageBytes: 0,
  usage: null,
  size: null,
  quality: null,
  outputFormat: null,
  background: null,
};
