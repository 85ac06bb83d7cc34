import type { Readable } from 'node:stream';
import type { Candidate } from '../dispatch/plan-candidates.js';
import { runFailover } from '../dispatch/run-failover.js';
import { buildCompletedEvent, buildErrorEvent, buildPartialEvent } from '../images/image-stream-events.js';
import { buildResponsesUpstreamBody } from '../images/upstream-body.js';
import type { ResponseMetrics } from '../observe/image-log-event.js';
import { readResponsesImageEvents, type ImageEchoes, type ImageToolUsage } from '../upstream/responses-events.js';
import { buildFailoverInput, type DispatchContext } from './dispatch-context.js';
import { createSseResponse, type SseResponse } from './sse-response.js';
import { STREAM_EVENT_PREFIX, endWithUpstreamError, endWithoutAnswer, eventDefaultsOf } from './stream-dispatch.js';

/** How one Responses stream was relayed to the client. */
interface Relayed {
  partialEvents: number;
  /** The completed event went out. */
  completed: boolean;
  /** Why no image was completed; null when one was. */
  failure: { code: string; message: string } | null;
  metrics: ResponseMetrics | null;
}

/**
 * Serves `stream: true` with `partial_images` through the Codex Responses API and its
 * image_generation tool (contract §3): each `partial_image` becomes a `*.partial_image` event as it
 * arrives, the final item plus `tool_usage.image_gen` the `*.completed` event. The SSE headers go
 * out once an account is held. A stream that fails before any image byte reached the client (no
 * partial, no image) fails over to the next account like a plain request; after that, a failure is
 * `event: error`. Leaves `outcome.ending` and `outcome.stream` set.
 */
export async function dispatchResponsesStream(ctx: DispatchContext, candidates: readonly Candidate[]): Promise<void> {
  const { deps, outcome } = ctx;
  const sse = createSseResponse(ctx.reply, deps.config.streamKeepaliveMs);
  const body = buildResponsesUpstreamBody(outcome.request, ctx.snapshot.settings.responsesHostModel);
  let remaining = candidates;
  for (;;) {
    const result = await runFailover({ ...buildFailoverInput(ctx, remaining, body), endpoint: 'responses', onPermit: () => sse.start() });
    outcome.attempts.push(...result.attempts);
    outcome.skips.push(...result.skips);
    outcome.stream = { completedEvents: 0, partialEvents: 0, path: 'responses' };
    if (result.kind !== 'final') return endWithoutAnswer(ctx, sse, result.kind);
    ctx.permits.push(result.permit);
    if (result.response.status < 200 || result.response.status >= 300) return endWithUpstreamError(ctx, sse, result);
    const relayed = await relayResponsesStream(ctx, sse, result.response.body);
    result.permit.release(); // the next account may need this slot's budget
    outcome.stream = { completedEvents: relayed.completed ? 1 : 0, partialEvents: relayed.partialEvents, path: 'responses' };
    const accountName = result.candidate.account.name;
    if (ctx.clientSignal.aborted) {
      outcome.ending = { kind: 'upstream', status: 200, accountName, metrics: relayed.metrics, streamError: 'client_aborted' };
      return sse.end();
    }
    const nothingSent = relayed.partialEvents === 0 && !relayed.completed;
    if (relayed.failure !== null && nothingSent) {
      // No image byte reached the client yet: this attempt failed like an upstream 5xx; try the next account.
      outcome.attempts.at(-1)!.errorClass = 'upstream_server';
      outcome.skips.push('upstream_server');
      remaining = remaining.slice(remaining.indexOf(result.candidate) + 1);
      if (remaining.length > 0 && !ctx.clientSignal.aborted) continue;
      return endWithoutAnswer(ctx, sse, 'exhausted');
    }
    outcome.ending = { kind: 'upstream', status: 200, accountName, metrics: relayed.metrics, streamError: relayed.failure === null ? null : 'upstream_body' };
    if (relayed.failure !== null) sse.writeEvents(buildErrorEvent({ message: relayed.failure.message, type: 'server_error', param: null, code: relayed.failure.code }));
    return sse.end();
  }
}

const STREAM_CUT = { code: 'upstream_stream_cut', message: 'the upstream stream ended before the image was complete' };
const NO_IMAGE = { code: 'image_generation_failed', message: 'the upstream did not return image output' };

/**
 * Relays one Responses stream's image events to the client as Images API events. Never throws: a
 * body that breaks off (connection cut, timeout, client gone) is a STREAM_CUT failure, reported with
 * the partial events already sent.
 */
async function relayResponsesStream(ctx: DispatchContext, sse: SseResponse, body: Readable): Promise<Relayed> {
  const sent = { partialEvents: 0 };
  return relayEvents(ctx, sse, body, sent).catch((): Relayed => ({ partialEvents: sent.partialEvents, completed: false, failure: STREAM_CUT, metrics: null }));
}

async function relayEvents(ctx: DispatchContext, sse: SseResponse, body: Readable, sent: { partialEvents: number }): Promise<Relayed> {
  const { deps, outcome } = ctx;
  const prefix = STREAM_EVENT_PREFIX[outcome.request.endpoint];
  const defaults = eventDefaultsOf(outcome.request);
  const createdAt = () => Math.floor(deps.now() / 1000);
  let image: { b64: string; echoes: ImageEchoes } | null = null;
  for await (const event of readResponsesImageEvents(body)) {
    switch (event.kind) {
      case 'partial':
        sse.writeEvents(buildPartialEvent(`${prefix}.partial_image`, event, defaults, createdAt()));
        sent.partialEvents += 1;
        break;
      case 'image':
        image = event;
        break;
      case 'failed':
        return { partialEvents: sent.partialEvents, completed: false, failure: { code: event.code ?? NO_IMAGE.code, message: event.message }, metrics: null };
      case 'completed': {
        const final = event.outputImage ?? image;
        if (final === null) return { partialEvents: sent.partialEvents, completed: false, failure: NO_IMAGE, metrics: null };
        const facts = { ...final.echoes, usage: event.usage };
        sse.writeEvents(buildCompletedEvent(`${prefix}.completed`, final.b64, { facts, details: event.usage, defaults, createdAt: createdAt() }));
        return { partialEvents: sent.partialEvents, completed: true, failure: null, metrics: metricsOf(final, event.usage) };
      }
    }
  }
  return { partialEvents: sent.partialEvents, completed: false, failure: STREAM_CUT, metrics: null };
}

/** What the log and usage need about the image a Responses stream produced. */
function metricsOf(image: { b64: string; echoes: ImageEchoes }, usage: ImageToolUsage | null): ResponseMetrics {
  const padding = image.b64.endsWith('==') ? 2 : image.b64.endsWith('=') ? 1 : 0;
  return {
    bodyBytes: image.b64.length,
    imageCount: 1,
    imageBytes: Math.max(0, Math.floor((image.b64.length * 3) / 4) - padding),
    usage: usage && { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, totalTokens: usage.totalTokens },
    ...image.echoes,
  };
}
