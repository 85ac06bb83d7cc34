import type { Readable, Transform } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { Candidate } from '../dispatch/plan-candidates.js';
import { runFailover, type FailoverResult } from '../dispatch/run-failover.js';
import type { GatewayError } from '../errors/codes.js';
import { toOpenAIError } from '../errors/openai-shape.js';
import { buildErrorEvent, type ImageEventDefaults } from '../images/image-stream-events.js';
import type { ImageRequest } from '../images/image-request.js';
import { buildUpstreamBody } from '../images/upstream-body.js';
import { createImageEventTap } from '../observe/image-event-tap.js';
import { buildUpstreamErrorResponse, readUpstreamError } from '../upstream/upstream-error.js';
import { isResponseTooLargeError } from '../upstream/upstream-failures.js';
import { buildExhaustionError, buildFailoverInput, buildRequestWait, type DispatchContext } from './dispatch-context.js';
import { createSseResponse, type SseResponse } from './sse-response.js';

/** The event type prefix of each endpoint. */
export const STREAM_EVENT_PREFIX = { generations: 'image_generation', edits: 'image_edit' } as const;

/** What a stream's completed events say where the upstream echoed nothing usable: what was asked for. */
export const eventDefaultsOf = (request: ImageRequest): ImageEventDefaults => ({
  size: request.options.size ?? null,
  quality: request.options.quality ?? null,
  background: request.options.background ?? null,
  outputFormat: request.options.output_format ?? null,
});

/**
 * Serves `stream: true` for one image: the SSE headers go out when an account permit is first held,
 * or as soon as the request starts waiting for one (so proxies that cut idle connections do not
 * cut a queued stream), keep-alive comments follow until the first event, failover works as for a plain request until an
 * image byte has been sent, and the upstream's JSON becomes `*.completed` events as it arrives.
 * Refusals before any account is held or waited for are plain JSON errors (thrown); later failures are
 * `event: error` with the error the plain request would have had. Leaves `outcome.ending` set.
 */
export async function dispatchStream(ctx: DispatchContext, candidates: readonly Candidate[]): Promise<void> {
  const { deps, outcome, reply } = ctx;
  const sse = createSseResponse(reply, deps.config.streamKeepaliveMs);
  const waitForSlot = buildRequestWait(ctx, { onQueued: () => sse.start() });
  const result = await runFailover({
    ...buildFailoverInput(ctx, candidates, buildUpstreamBody(outcome.request)),
    onPermit: () => sse.start(),
    ...(waitForSlot ? { waitForSlot } : {}),
  });
  outcome.attempts = result.attempts;
  outcome.skips = result.skips;
  if (result.kind !== 'final') return endWithoutAnswer(ctx, sse, result.kind);
  ctx.permits.push(result.permit);
  await streamFinal(ctx, sse, result);
}

/**
 * Ends a stream whose failover gave no answer: the client left (nothing more to send), or every
 * account failed (`outcome.attempts`/`skips` say how) — a plain JSON error if the headers are not
 * out yet, else `event: error` with the same error. Leaves `outcome.ending` set.
 */
export function endWithoutAnswer(ctx: DispatchContext, sse: SseResponse, kind: 'aborted' | 'exhausted'): void {
  const { outcome } = ctx;
  if (kind === 'aborted') {
    outcome.ending = { kind: 'client_aborted' };
    if (!sse.started) ctx.reply.hijack();
    sse.end();
    return;
  }
  const error = buildExhaustionError(outcome.attempts, outcome.skips, ctx.deps.now());
  outcome.ending = { kind: 'exhausted', status: error.status, skips: outcome.skips };
  if (!sse.started) throw error;
  endWithError(sse, error);
}

/** Ends a started stream with the upstream's own error answer as `event: error` (its status is logged). */
export async function endWithUpstreamError(ctx: DispatchContext, sse: SseResponse, result: Extract<FailoverResult, { kind: 'final' }>): Promise<void> {
  const { response } = result;
  const info = await readUpstreamError(response.body, response.status);
  const built = buildUpstreamErrorResponse(response.status >= 400 ? response.status : 502, info);
  ctx.outcome.ending = { kind: 'upstream', status: built.status, accountName: result.candidate.account.name, metrics: null, streamError: null };
  sse.writeEvents(buildErrorEvent(built.body.error));
  sse.end();
}

/** Streams the final upstream answer: events from a 2xx, else the upstream's error as `event: error`. */
async function streamFinal(ctx: DispatchContext, sse: SseResponse, result: Extract<FailoverResult, { kind: 'final' }>): Promise<void> {
  const { deps, outcome } = ctx;
  const accountName = result.candidate.account.name;
  const { response } = result;
  if (response.status < 200 || response.status >= 300) return endWithUpstreamError(ctx, sse, result);
  const tap = createImageEventTap({
    eventPrefix: STREAM_EVENT_PREFIX[outcome.request.endpoint],
    defaults: eventDefaultsOf(outcome.request),
    maxBytes: deps.config.upstreamMaxResponseBytes,
    nowSeconds: () => Math.floor(deps.now() / 1000),
  });
  sse.stopKeepalive();
  const failure = await pipeEvents(response.body, tap.stream, ctx.reply.raw, deps.config.upstreamBodyTimeoutMs).then(
    () => null,
    (err: unknown) => err,
  );
  const events = tap.eventsWritten();
  outcome.stream = { completedEvents: events, partialEvents: 0, path: 'images' };
  const streamError = ctx.clientSignal.aborted ? 'client_aborted' : failure !== null ? 'upstream_body' : events === 0 ? 'upstream_body' : null;
  outcome.ending = { kind: 'upstream', status: 200, accountName, metrics: tap.metrics(), streamError };
  if (streamError === 'client_aborted') return sse.end();
  if (streamError !== null) {
    if (tap.eventOpen()) sse.writeEvents('\n\n'); // end the broken event's data line first
    sse.writeEvents(buildErrorEvent(noImageError(failure)));
  }
  sse.end();
}

/** Ends a started stream with `event: error` carrying the OpenAI error object of `error`. */
export function endWithError(sse: SseResponse, error: GatewayError): void {
  sse.writeEvents(buildErrorEvent(toOpenAIError(error).body.error));
  sse.end();
}

/** The error event for a 2xx upstream answer that did not deliver a whole image. */
function noImageError(failure: unknown): { message: string; type: string; param: null; code: string } {
  const tooLarge = isResponseTooLargeError(failure);
  return {
    message: tooLarge ? 'the upstream response was too large' : 'the upstream did not return a whole image',
    type: 'server_error',
    param: null,
    code: tooLarge ? 'response_too_large' : 'upstream_body',
  };
}

/**
 * Pipes upstream body → event tap → client without ending the response (an error event may follow),
 * and settles when the tap has flushed. Any failure destroys the upstream side; the client side is
 * left to the caller. `idleTimeoutMs` of no progress toward the client ends it, as for plain bodies.
 */
function pipeEvents(source: Readable, tap: Transform, res: ServerResponse, idleTimeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const idle = setTimeout(() => fail(Object.assign(new Error('no progress toward the client'), { code: 'UPSTREAM_STALLED' })), idleTimeoutMs);
    const settle = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      res.removeListener('close', onClose);
      if (err === null) return resolve();
      source.destroy();
      tap.destroy();
      reject(err);
    };
    const fail = (err: unknown) => settle(err);
    const onClose = () => fail(Object.assign(new Error('client closed the connection'), { code: 'CLIENT_CLOSED' }));
    tap.on('data', () => idle.refresh());
    source.once('error', fail);
    tap.once('error', fail);
    tap.once('end', () => settle(null));
    res.once('close', onClose);
    source.pipe(tap).pipe(res, { end: false });
  });
}
