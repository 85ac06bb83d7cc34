import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { ImageRequest } from '../images/image-request.js';
import type { ResponseMetrics } from '../observe/image-log-event.js';
import { createResponseTap, type ResponseTap } from '../observe/response-tap.js';
import type { HostedImages } from './hosted-images.js';
import { sendHostedUpstreamResponse } from './send-hosted-response.js';
import { declaredLength } from '../upstream/upstream-attempt.js';
import { buildUpstreamErrorResponse, readUpstreamError, type UpstreamErrorInfo } from '../upstream/upstream-error.js';
import type { UpstreamResponse } from '../upstream/types.js';
import { isResponseTooLargeError } from '../upstream/upstream-failures.js';

/** What happened while answering the client with the final upstream response. */
export interface SentResponse {
  status: number;
  metrics: ResponseMetrics | null;
  /** Set when the body could not be delivered whole (the client then sees a cut-off response). */
  streamError: 'upstream_body' | 'response_too_large' | 'client_aborted' | 'result_store_failed' | null;
}

/** The response tap for a request's 2xx body: counts images and usage, and rewrites to data URLs for `response_format: url`. */
export const createRequestTap = (request: ImageRequest, maxResponseBytes: number): ResponseTap =>
  createResponseTap({
    responseFormat: request.responseFormat,
    urlFallbackMime: `image/${request.options.output_format ?? 'png'}`,
    maxBytes: maxResponseBytes,
  });

const headerText = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/**
 * Answers with the final upstream response. A 2xx body is piped to the client as it arrives, through
 * the response tap that counts images and usage (and rewrites b64_json to data URLs for
 * `response_format: url`), so memory does not grow with the image size. Any other status becomes an
 * OpenAI-shaped error carrying the upstream's message. With `hosted` (RESULT_URL_MODE=hosted and
 * `response_format: url`), see sendHostedUpstreamResponse.
 */
export async function sendUpstreamResponse(
  reply: FastifyReply,
  response: UpstreamResponse,
  request: ImageRequest,
  opts: {
    maxResponseBytes: number;
    clientSignal: AbortSignal;
    idleTimeoutMs: number;
    hosted?: HostedImages | null;
    /**
     * Called with the complete body's figures just before its last bytes are written, for a plain
     * 2xx body: whatever it records happens before the client can see the response end.
     */
    beforeLastBytes?: (sent: SentResponse) => void;
  },
): Promise<SentResponse> {
  if (response.status < 200 || response.status >= 300) return sendUpstreamError(reply, response);
  if (opts.hosted) return sendHostedUpstreamResponse(reply, response, request, { ...opts, hosted: opts.hosted });
  const tap = createRequestTap(request, opts.maxResponseBytes);
  reply.hijack();
  const res = reply.raw;
  // A Content-Length the body keeps spares the chunked framing (and, for a small body, a second write for its end).
  const length = tap.keepsLength ? declaredLength(response.headers) : null;
  res.writeHead(response.status, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': headerText(response.headers['content-type']) ?? 'application/json',
    'cache-control': 'no-store',
    ...(length !== null ? { 'content-length': String(length) } : {}),
  });
  try {
    await pumpThrough(response.body, tap, res, { idleTimeoutMs: opts.idleTimeoutMs, length }, () =>
      opts.beforeLastBytes?.({ status: response.status, metrics: tap.metrics(), streamError: null }),
    );
    return { status: response.status, metrics: tap.metrics(), streamError: null };
  } catch (err) {
    // Read before the response is cut: cutting it fires the client-abort watcher as well.
    const streamError = opts.clientSignal.aborted ? 'client_aborted' : classifyStreamError(err);
    if (!res.destroyed) res.destroy();
    return { status: response.status, metrics: tap.metrics(), streamError };
  }
}

async function sendUpstreamError(reply: FastifyReply, response: UpstreamResponse): Promise<SentResponse> {
  return sendUpstreamErrorInfo(reply, response.status, await readUpstreamError(response.body, response.status));
}

/** Answers with an upstream error already read: the OpenAI shape, the upstream's status and message (redacted), no retry. */
export async function sendUpstreamErrorInfo(reply: FastifyReply, upstreamStatus: number, info: UpstreamErrorInfo): Promise<SentResponse> {
  // A 1xx/3xx at this point is not something an Images API client can use.
  const status = upstreamStatus >= 400 ? upstreamStatus : 502;
  const built = buildUpstreamErrorResponse(status, info);
  await reply
    .code(built.status)
    .headers({ ...built.headers, 'x-should-retry': 'false' })
    .send(built.body);
  return { status: built.status, metrics: null, streamError: null };
}

function classifyStreamError(err: unknown): SentResponse['streamError'] {
  if (isResponseTooLargeError(err)) return 'response_too_large';
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'CLIENT_STALLED' ? 'client_aborted' : 'upstream_body';
}

/**
 * Moves the upstream body to the client through the tap's scan and settles when the client has the
 * last byte, or on the first error anywhere (then the upstream side is destroyed, so its connection is
 * released; the caller cuts the client's response once it has told why). `beforeEnd` runs once the
 * whole body has been scanned and before the client can see the answer complete: before the
 * chunked framing's end, or, with a Content-Length (`length`), before the piece that completes the
 * body, which alone is held back. Hand-rolled rather than
 * piped through the tap's stream or stream/promises' pipeline: no Transform between the two sockets
 * (one stream hop and its buffering less per chunk), and none of the pipeline's per-call
 * AbortController and error objects, measurable at hundreds of requests per second. Backpressure is
 * kept: the upstream is paused while the client's buffer is full.
 * `idleTimeoutMs`: no byte moving toward the client for that long ends it. Without this a client that
 * stops reading would hold its account and key slots for as long as it keeps the connection open
 * (undici's body timeout does not run while backpressure pauses the socket).
 */
function pumpThrough(
  source: Readable,
  tap: ResponseTap,
  res: ServerResponse,
  { idleTimeoutMs, length }: { idleTimeoutMs: number; length: number | null },
  beforeEnd: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    // Who stalled: a full client buffer means the client stopped reading; otherwise the upstream went quiet.
    const onIdle = () =>
      fail(Object.assign(new Error('no progress toward the client'), { code: res.writableNeedDrain ? 'CLIENT_STALLED' : 'UPSTREAM_STALLED' }));
    const idle = setTimeout(onIdle, idleTimeoutMs);
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      source.destroy();
      reject(err);
    };
    let received = 0;
    // With a Content-Length (the tap then emits exactly the bytes it reads), what the chunk that
    // completes the body emits is held and written by the end: the client sees the answer complete
    // on it, so it must not have it before `beforeEnd` has run. A body that arrives in one chunk (a
    // small answer) then leaves with its head in one write.
    let held: Buffer[] | null = null;
    const emit = (bytes: Buffer) => {
      if (bytes.length === 0) return;
      idle.refresh();
      if (held) held.push(bytes);
      else if (!res.write(bytes)) source.pause();
    };
    source.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (length !== null && received >= length) held ??= [];
      try {
        tap.scan.write(chunk, emit);
      } catch (err) {
        fail(err);
      }
    });
    source.once('end', () => {
      tap.scan.end(emit).then(() => {
        if (settled) return;
        beforeEnd();
        if (held && held.length > 1) res.cork(); // one write for the pieces and the end
        for (const bytes of held ?? []) res.write(bytes);
        res.end();
      }, fail);
    });
    res.on('drain', () => source.resume());
    source.once('error', fail);
    res.once('error', fail);
    res.once('close', () => {
      if (!res.writableFinished) fail(Object.assign(new Error('client closed the connection'), { code: 'CLIENT_CLOSED' }));
    });
    res.once('finish', () => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      resolve();
    });
  });
}
