import type { FastifyReply, FastifyRequest } from 'fastify';
import { explainExhaustion } from '../dispatch/exhaustion.js';
import { explainEmptyPlan } from '../dispatch/plan-exhaustion.js';
import { planCandidates, type Candidate, type CandidatePlan } from '../dispatch/plan-candidates.js';
import type { RequestOutcome } from '../dispatch/request-outcome.js';
import { runFailover, type AttemptRecord } from '../dispatch/run-failover.js';
import { GatewayError } from '../errors/codes.js';
import { createImageSpool } from '../images/image-spool.js';
import type { ImageEndpoint, ImageRequest } from '../images/image-request.js';
import { buildUpstreamBody } from '../images/upstream-body.js';
import { describeKeyLimitRejection } from '../limits/key-limiter.js';
import type { Permit } from '../limits/permit.js';
import { hashPrompt } from '../observe/prompt-hash.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import { watchClientAbort } from './client-abort.js';
import type { GatewayDeps } from './gateway-deps.js';
import { parseImageBody } from './parse-image-body.js';
import { recordOutcome } from './record-outcome.js';
import { sendUpstreamResponse } from './send-upstream-response.js';

/** Explains an empty plan: no image-enabled account at all, or none usable right now and why. */
function ensureCandidates(plan: CandidatePlan, nowMs: number): Candidate[] {
  if (plan.candidates.length > 0) return plan.candidates;
  const why = explainEmptyPlan(plan, nowMs);
  throw new GatewayError(why.code, why.message, null, { retryAfterMs: why.retryAfterMs });
}

/** Tells account health how an attempt ended, and the control plane about a 401 (refresh now). */
function reportAttempt(attempt: AttemptRecord, candidates: readonly Candidate[], deps: GatewayDeps): void {
  const candidate = candidates.find((c) => c.account.id === attempt.accountId);
  if (candidate) deps.health?.report(attempt, candidate.credentials.accessToken);
  if (attempt.status === 401) deps.onAuthFailure?.(attempt.accountId);
}

/** The accounts to try for this key, in order; throws when there are none. */
function resolveCandidates(key: KeyRecord, snapshot: Snapshot, deps: GatewayDeps): Candidate[] {
  const now = deps.now();
  const health = deps.health;
  return ensureCandidates(
    planCandidates(key, snapshot, {
      now,
      allowFreePlans: deps.config.allowFreePlanAccounts,
      inFlight: (id) => deps.accountLimiter.inFlight(id),
      lastStartMs: (id) => deps.accountLimiter.lastStartMs(id),
      ...(health ? { cooldownOf: (id: string, token: string) => health.cooldownOf(id, token) } : {}),
    }),
    now,
  );
}

/** Takes the key's permit or throws the original's 429 (recording why on the outcome). */
function admitKey(key: KeyRecord, outcome: RequestOutcome, deps: GatewayDeps): Permit {
  const admission = deps.keyLimiter.admit(key.id, key);
  if (admission.admitted) return admission.permit;
  outcome.ending = { kind: 'key_limited', reason: admission.reason };
  deps.metrics.limiterRejections.inc({ limiter: 'key' });
  throw new GatewayError('key_rate_limited', describeKeyLimitRejection(admission.reason, admission.inFlight, key), null, {
    retryAfterMs: admission.retryAfterMs,
  });
}

const startOutcome = (req: FastifyRequest, key: KeyRecord, request: ImageRequest, deps: GatewayDeps): RequestOutcome => ({
  requestId: req.id,
  clientIp: req.ip || null,
  startedAt: deps.now(),
  key,
  request,
  promptHash: hashPrompt(request.prompt),
  attempts: [],
  skips: [],
  ending: null,
});

interface DispatchContext {
  req: FastifyRequest;
  reply: FastifyReply;
  deps: GatewayDeps;
  outcome: RequestOutcome;
  permits: Permit[];
  clientSignal: AbortSignal;
}

/** Plans, admits, fails over and answers; every exit leaves `outcome.ending` set for the bookkeeping. */
async function dispatch(ctx: DispatchContext): Promise<void> {
  const { req, reply, deps, outcome } = ctx;
  const snapshot = deps.snapshots.current() as Snapshot; // the gate refused requests before the first load
  const candidates = resolveCandidates(outcome.key, snapshot, deps);
  ctx.permits.push(admitKey(outcome.key, outcome, deps));
  const result = await runFailover({
    endpoint: outcome.request.endpoint,
    body: buildUpstreamBody(outcome.request),
    candidates,
    signal: ctx.clientSignal,
    clientHeaders: req.headers,
    codexClientVersion: snapshot.settings.codexClientVersion,
    upstream: deps.upstream,
    accountLimiter: deps.accountLimiter,
    now: deps.now,
    onAttempt: (attempt) => reportAttempt(attempt, candidates, deps),
  });
  outcome.attempts = result.attempts;
  outcome.skips = result.skips;
  if (result.kind === 'aborted') {
    outcome.ending = { kind: 'client_aborted' };
    reply.hijack(); // nobody is listening any more; do not let Fastify try to answer
    return;
  }
  if (result.kind === 'exhausted') {
    const why = explainExhaustion(result, deps.now());
    const error = new GatewayError(why.code, why.message, null, { retryAfterMs: why.retryAfterMs });
    outcome.ending = { kind: 'exhausted', status: error.status, skips: result.skips };
    throw error;
  }
  ctx.permits.push(result.permit);
  const sent = await sendUpstreamResponse(reply, result.response, outcome.request, {
    maxResponseBytes: deps.config.upstreamMaxResponseBytes,
    clientSignal: ctx.clientSignal,
    idleTimeoutMs: deps.config.upstreamBodyTimeoutMs,
  });
  outcome.ending = { kind: 'upstream', status: sent.status, accountName: result.candidate.account.name, metrics: sent.metrics, streamError: sent.streamError };
}

/** POST /v1/images/{generations,edits}: validate, plan, admit, fail over, stream the answer, record. */
export function createImageHandler(endpoint: ImageEndpoint, deps: GatewayDeps) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const key = req.gatewayKey!; // set by the image gate (onRequest)
    const client = watchClientAbort(reply);
    const spool = createImageSpool({ dir: deps.spoolDir, maxFileBytes: deps.config.maxUploadFileBytes, maxTotalBytes: deps.config.maxUploadTotalBytes });
    const permits: Permit[] = [];
    let outcome: RequestOutcome | null = null;
    try {
      const request = await parseImageBody(endpoint, req, deps.config, spool).finally(() => req.endBodyDeadline?.());
      outcome = startOutcome(req, key, request, deps);
      await dispatch({ req, reply, deps, outcome, permits, clientSignal: client.signal });
    } finally {
      for (const permit of permits) permit.release();
      client.dispose();
      await spool.cleanup();
      if (outcome) recordOutcome(outcome, deps, reply);
    }
  };
}
