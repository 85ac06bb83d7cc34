import type { FastifyReply } from 'fastify';
import { buildImageLogEvents, endingErrorClass, endingStatus, type RequestEnding, type RequestOutcome } from '../dispatch/request-outcome.js';
import type { GatewayMetrics } from '../observe/gateway-metrics.js';
import type { ResponseMetrics } from '../observe/image-log-event.js';
import { estimateCostMicros, type CostEstimate } from '../pricing/cost-estimate.js';
import { SETTINGS_DEFAULTS } from '../store/settings-defaults.js';
import { buildHourStart, classifyUsageFailure } from '../store/usage-rollups.js';
import type { GatewayDeps } from './gateway-deps.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** True once a dispatched request's metrics were counted (the error handler then skips it). */
    outcomeRecorded?: boolean;
  }
}

/**
 * The one exit for a dispatched request's bookkeeping: request-log lines, usage counters and metrics.
 * Runs once per request, when the response is complete (or abandoned), or just before a successful
 * body's last bytes go out (so usage is journaled before the client can see its success); never
 * throws into the request.
 */
export function recordOutcome(outcome: RequestOutcome, deps: GatewayDeps, reply?: FastifyReply): void {
  const ending = outcome.ending;
  if (!ending || outcome.recorded) return;
  outcome.recorded = true;
  // An async job has no exchange of its own: its 202 is not counted, this is its one count.
  if (reply) reply.request.outcomeRecorded = true;
  const now = deps.now();
  for (const event of buildImageLogEvents(outcome, now)) deps.requestLog.write(event);
  const status = endingStatus(ending);
  const success =
    (ending.kind === 'upstream' && status >= 200 && status < 300 && ending.streamError === null) || (ending.kind === 'fanout' && ending.produced > 0);
  const metrics = ending.kind === 'upstream' || ending.kind === 'fanout' ? ending.metrics : null;
  // Usage is what was produced: a fanned-out request that got 3 of 4 images is charged for 3.
  const images = success ? (metrics?.imageCount ?? 0) : 0;
  const cost = estimateOutcomeCost(outcome, metrics, images, deps);
  deps.usage.record(outcome.key.id, {
    success,
    images,
    inputTokens: metrics?.usage?.inputTokens ?? null,
    outputTokens: metrics?.usage?.outputTokens ?? null,
    totalTokens: metrics?.usage?.totalTokens ?? null,
    estimatedCostMicros: cost.costMicros,
    rollup: {
      hourStart: buildHourStart(outcome.startedAt),
      accountId: resolveFinalAccountId(outcome, ending),
      model: outcome.request.model,
      endpoint: outcome.request.endpoint,
      failureClass: success ? null : classifyUsageFailure(status),
      upstreamBytes: metrics?.bodyBytes ?? 0,
      latencyMs: now - outcome.startedAt,
      unpriced: !cost.priced,
      imageInputTokens: metrics?.usage?.imageInputTokens ?? 0,
    },
  });
  // Recorded usage now counts against the budget in the reservation's place (same turn: nothing sees neither).
  outcome.budgetHold?.release({ images, tokens: metrics?.usage?.totalTokens ?? 0, costMicros: cost.costMicros });
  countMetrics(outcome, ending, { status, success, metrics, durationMs: now - outcome.startedAt }, deps.metrics);
}

/**
 * The estimated cost of what a request produced, by the price table of the snapshot in force now
 * (so a table change prices the requests that end after it): the quality and size the upstream
 * echoed, else the ones requested.
 */
function estimateOutcomeCost(outcome: RequestOutcome, metrics: ResponseMetrics | null, images: number, deps: GatewayDeps): CostEstimate {
  const table = deps.snapshots.current()?.settings.priceTable ?? SETTINGS_DEFAULTS.priceTable;
  const usage = metrics?.usage;
  return estimateCostMicros(table, {
    model: outcome.request.model,
    quality: metrics?.quality ?? outcome.request.options.quality ?? null,
    size: metrics?.size ?? outcome.request.options.size ?? null,
    images,
    usage: usage ? { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, imageInputTokens: usage.imageInputTokens ?? null } : null,
  });
}

/**
 * The account a request's usage is attributed to: the one whose answer ended it (for a fan-out, the
 * last part that got an answer); null when no account answered. A fan-out's parts may have run on
 * several accounts: its usage rollup row still names one.
 */
function resolveFinalAccountId(outcome: RequestOutcome, ending: RequestEnding): string | null {
  if (ending.kind === 'upstream') return outcome.attempts.at(-1)?.accountId ?? null;
  if (ending.kind !== 'fanout') return null;
  for (let i = ending.parts.length - 1; i >= 0; i--) {
    const part = ending.parts[i]!;
    if (part.ending.kind === 'upstream') return part.attempts.at(-1)?.accountId ?? null;
  }
  return null;
}

/** Prometheus counters and histograms for one finished request (labels are bounded by GatewayMetrics). */
function countMetrics(
  outcome: RequestOutcome,
  ending: RequestEnding,
  result: { status: number; success: boolean; metrics: ResponseMetrics | null; durationMs: number },
  m: GatewayMetrics,
): void {
  const endpoint = outcome.request.endpoint;
  m.requests.inc({ endpoint, status: result.status, errorClass: endingErrorClass(ending, outcome.attempts) });
  m.requestDuration.observe({ endpoint }, result.durationMs / 1000);
  const tracks = ending.kind === 'fanout' ? ending.parts : [{ attempts: outcome.attempts, skips: outcome.skips, ending }];
  for (const track of tracks) {
    // Every attempt but the one that answered is a failover.
    const answered = track.ending.kind === 'upstream' ? 1 : 0;
    track.attempts.forEach((attempt, index) => {
      if (attempt.ttfbMs !== null) m.upstreamTtfb.observe({ endpoint }, attempt.ttfbMs / 1000);
      if (attempt.status !== null) m.upstreamResponses.inc({ status: attempt.status });
      if (index < track.attempts.length - answered) m.failovers.inc({ reason: attempt.errorClass ?? 'upstream_status' });
    });
    for (const skip of track.skips) if (skip === 'concurrency_blocked') m.limiterRejections.inc({ limiter: 'account' });
  }
  if (result.success) m.imagesReturned.inc(result.metrics?.imageCount ?? 0);
  if (result.metrics) m.responseBytes.inc(result.metrics.bodyBytes);
}
