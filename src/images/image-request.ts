import type { Readable } from 'node:stream';

/** The two public image endpoints. */
export type ImageEndpoint = 'generations' | 'edits';

/** Image MIME types accepted as input (checked by magic bytes, never by name). */
export type ImageMime = 'image/png' | 'image/jpeg' | 'image/webp';

/**
 * One input image (or mask), already validated.
 * - `url`: an http(s) URL the client gave; forwarded as is, never fetched by the gateway.
 * - `inline`: a data URL the client sent in JSON, decoded and checked; `dataUrl` is forwarded.
 * - `spooled`: a multipart upload held in an encrypted temporary file; streamed upstream as a data URL.
 */
export type ImageInput =
  | { kind: 'url'; url: string }
  | { kind: 'inline'; mime: ImageMime; bytes: number; dataUrl: string }
  | { kind: 'spooled'; mime: ImageMime; bytes: number; file: SpooledFile };

/** A re-readable temporary file; `openRaw` yields the original bytes (it may be encrypted at rest). */
export interface SpooledFile {
  readonly path: string;
  readonly bytes: number;
  openRaw(): Readable;
}

/** Options forwarded upstream as given (after validation). Absent means "not sent". */
export interface ImageOptions {
  size?: string;
  quality?: 'auto' | 'low' | 'medium' | 'high';
  background?: 'auto' | 'transparent' | 'opaque';
  output_format?: 'png' | 'jpeg' | 'webp';
  output_compression?: number;
  moderation?: 'auto' | 'low';
  input_fidelity?: 'low' | 'high';
}

/**
 * Every ImageOptions name, in the order the upstream body carries them: the validator fills these
 * and the body builders send only these, so anything else in `options` is never sent.
 */
export const UPSTREAM_OPTIONS = [
  'size',
  'quality',
  'background',
  'output_format',
  'output_compression',
  'moderation',
  'input_fidelity',
] as const satisfies readonly (keyof ImageOptions)[];

/** The canonical, validated request: everything downstream works from this, never from the raw body. */
export interface ImageRequest {
  endpoint: ImageEndpoint;
  /** The upstream model (after the model alias table). */
  model: string;
  /** The model name the client sent; null when it sent none. */
  requestedModel: string | null;
  prompt: string;
  n: number;
  /** `n` as the client sent it; the upstream body carries `n` only when the client set it. */
  nGiven: boolean;
  options: ImageOptions;
  responseFormat: 'b64_json' | 'url';
  /** `stream: true`: answer with Images API stream events (text/event-stream). */
  stream: boolean;
  /** Partial images asked for in a stream (0..3); 0 when not streaming. */
  partialImages: number;
  images: ImageInput[];
  mask: ImageInput | null;
  /** Fields the client sent that the gateway accepted but does not honour (names only, never values). */
  ignoredParams: readonly string[];
  /** Fields whose legacy value was replaced by a supported one (names only). */
  mappedParams: readonly string[];
}

/**
 * A request body that can be sent more than once (one send per account attempt) without holding it
 * twice in memory: `open()` returns a fresh stream each time.
 */
export interface UpstreamBody {
  readonly contentLength: number;
  open(): Readable;
  /**
   * The whole body, when it is small and already in memory (a generation's JSON): sent with the
   * request headers in one write, with none of a stream's machinery. Absent for bodies that stream.
   */
  readonly bytes?: Buffer;
}
