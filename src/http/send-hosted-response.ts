import { Writable, type Readable, type Transform } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { toOpenAIError } from '../errors/openai-shape.js';
import type { ImageRequest } from '../images/image-request.js';
import { createResponseTap } from '../observe/response-tap.js';
import type { UpstreamResponse } from '../upstream/types.js';
import { isResponseTooLargeError } from '../upstream/upstream-failures.js';
import { buildResultStoreError, logResultStoreFailure, type HostedImages } from './hosted-images.js';
import type { ResponseMetrics } from '../observe/image-log-event.js';

export interface HostedSendOptions {
  hosted: HostedImages;
  maxResponseBytes: number;
  clientSignal: AbortSignal;
  /** Longest silence of the upstream body. */
  idleTimeoutMs: number;
}

/** How the answer went (the same shape as send-upstream-response.ts's SentResponse). */
export interface HostedSent {
  status: number;
  metrics: ResponseMetrics | null;
  streamError: 'upstream_body' | 'response_too_large' | 'client_aborted' | 'result_store_failed' | null;
}

const headerText = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/**
 * Answers a 2xx upstream body for `response_format: url` with hosted result URLs. The body goes
 * through the response tap, which seals each image as its base64 streams in and writes its URL in
 * its place; what is left of the body (no image bytes: a few hundred bytes) is held, and sent only
 * once every image's row is committed, so a client may fetch its URL at once. A failed store is a
 * 500 `result_store_failed` before any byte went out; a broken upstream body cuts the connection,
 * as on the streamed path.
 */
export async function sendHostedUpstreamResponse(
  reply: FastifyReply,
  response: UpstreamResponse,
  request: ImageRequest,
  opts: HostedSendOptions,
): Promise<HostedSent> {
  const tap = createResponseTap({
    responseFormat: request.responseFormat,
    urlFallbackMime: opts.hosted.fallbackType,
    maxBytes: opts.maxResponseBytes,
    hosted: { store: opts.hosted.store, fallbackType: opts.hosted.fallbackType },
  });
  const collected = await collectTapOutput(response.body, tap.stream, opts).then(
    (bytes) => ({ ok: true as const, bytes }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (collected.ok) {
    await reply
      .code(response.status)
      .headers({ 'content-type': headerText(response.headers['content-type']) ?? 'application/json', 'cache-control': 'no-store' })
      .send(collected.bytes);
    return { status: response.status, metrics: tap.metrics(), streamError: null };
  }
  const streamError = opts.clientSignal.aborted ? 'client_aborted' : classifyHostedError(collected.err);
  if (streamError !== 'result_store_failed') {
    reply.hijack();
    reply.raw.destroy();
    return { status: response.status, metrics: tap.metrics(), streamError };
  }
  logResultStoreFailure(reply.log, collected.err);
  const mapped = toOpenAIError(buildResultStoreError((collected.err as Error).cause));
  await reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  return { status: mapped.status, metrics: tap.metrics(), streamError };
}

function classifyHostedError(err: unknown): HostedSent['streamError'] {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code === 'RESULT_STORE_FAILED') return 'result_store_failed';
  return isResponseTooLargeError(err) ? 'response_too_large' : 'upstream_body';
}

/**
 * Pipes body → tap into memory and resolves with the tap's output once the tap has ended (after its
 * images are stored). Fails on the first error, on the client going away, or when the upstream body
 * is silent for `idleTimeoutMs` (progress is counted on the input: the tap emits nothing while an
 * image streams through it).
 */
function collectTapOutput(source: Readable, tap: Transform, opts: Pick<HostedSendOptions, 'clientSignal' | 'idleTimeoutMs'>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      opts.clientSignal.removeEventListener('abort', onAbort);
      if (err === null) return resolve(Buffer.concat(chunks));
      source.destroy();
      tap.destroy();
      reject(err);
    };
    const onAbort = () => settle(new Error('client closed the connection'));
    const idle = setTimeout(() => settle(Object.assign(new Error('upstream went quiet'), { code: 'UPSTREAM_STALLED' })), opts.idleTimeoutMs);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    opts.clientSignal.addEventListener('abort', onAbort, { once: true });
    if (opts.clientSignal.aborted) onAbort();
    source.on('data', () => idle.refresh());
    source.once('end', () => clearTimeout(idle)); // storing the last image is not upstream silence
    source.once('error', settle);
    tap.once('error', settle);
    sink.once('finish', () => settle(null));
    source.pipe(tap).pipe(sink);
  });
}
