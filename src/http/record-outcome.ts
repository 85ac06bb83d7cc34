import type { FastifyReply } from 'fastify';
import { buildImageLogEvents, endingErrorClass, endingStatus, type RequestOutcome } from '../dispatch/request-outcome.js';
import type { GatewayDeps } from './gateway-deps.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** True once a dispatched request's metrics were counted (the error handler then skips it). */
    outcomeRecorded?: boolean;
  }
}

/**
 * The one exit for a dispatched request's bookkeeping: request-log lines, usage counters and metrics.
 * Runs once, after the response is complete (or abandoned); never throws into the request.
 */
export function recordOutcome(outcome: RequestOutcome, deps: GatewayDeps, reply: FastifyReply): void {
  const ending = outcome.ending;
  if (!ending) return;
  reply.request.outcomeRecorded = true;
  const now = deps.now();
  for (const event of buildImageLogEvents(outcome, now)) deps.requestLog.write(event);

  const status = endingStatus(ending);
  const upstream = ending.kind === 'upstream' ? ending : null;
  const success = upstream !== null && status >= 200 && status < 300 && upstream.streamError === null;
  const usage = upstream?.metrics?.usage ?? null;
  deps.usage.record(outcome.key.id, {
    success,
    images: success ? (upstream?.metrics?.imageCount ?? 0) : 0,
    inputTokens: usage?.inputTokens ?? null,
    outputTokens: usage?.outputTokens ?? null,
    totalTokens: usage?.totalTokens ?? null,
  });

  const endpoint = outcome.request.endpoint;
  const errorClass = endingErrorClass(ending, outcome.attempts);
  const m = deps.metrics;
  m.requests.inc({ endpoint, status, errorClass });
  m.requestDuration.observe({ endpoint }, (now - outcome.startedAt) / 1000);
  for (const attempt of outcome.attempts) {
    if (attempt.ttfbMs !== null) m.upstreamTtfb.observe({ endpoint }, attempt.ttfbMs / 1000);
    if (attempt.status !== null) m.upstreamResponses.inc({ status: attempt.status });
  }
  const failovers = outcome.attempts.length - (ending.kind === 'upstream' ? 1 : 0);
  for (const attempt of outcome.attempts.slice(0, Math.max(0, failovers))) m.failovers.inc({ reason: attempt.errorClass ?? 'upstream_status' });
  for (const skip of outcome.skips) if (skip === 'concurrency_blocked') m.limiterRejections.inc({ limiter: 'account' });
  if (success) m.imagesReturned.inc(upstream?.metrics?.imageCount ?? 0);
  if (upstream?.metrics) m.responseBytes.inc(upstream.metrics.bodyBytes);
}
