import { hasQuota, type BudgetHold } from '../limits/key-budget.js';
import { reserveKeyBudget } from './budget-gate.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Candidate } from '../dispatch/plan-candidates.js';
import type { RequestOutcome } from '../dispatch/request-outcome.js';
import { runFailover } from '../dispatch/run-failover.js';
import { createImageSpool } from '../images/image-spool.js';
import type { ImageEndpoint, ImageRequest } from '../images/image-request.js';
import { buildUpstreamBody } from '../images/upstream-body.js';
import type { Permit } from '../limits/permit.js';
import { readUpstreamError } from '../upstream/upstream-error.js';
import { isImagesEndpointUnavailable } from '../upstream/upstream-failures.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import { watchClientAbort } from './client-abort.js';
import { admitRequestKey, buildExhaustionError, buildFailoverInput, buildRequestWait, resolveCandidates, type DispatchContext } from './dispatch-context.js';
import { dispatchFanOut, dispatchStreamFanOut } from './fan-out-dispatch.js';
import { prefersAsync, submitJob } from './job-submit.js';
import type { GatewayDeps } from './gateway-deps.js';
import { resolveHostedImages } from './hosted-images.js';
import { parseImageBody, spoolLimitsFor } from './parse-image-body.js';
import { recordOutcome } from './record-outcome.js';
import { sendUpstreamErrorInfo, sendUpstreamResponse } from './send-upstream-response.js';
import { dispatchResponsesJson, dispatchResponsesStream } from './responses-dispatch.js';
import { dispatchStream } from './stream-dispatch.js';

/** Response headers that say what the gateway did with the request's fields (names only, never values). */
export const FIELD_POLICY_HEADERS = {
  ignored: 'x-gateway-ignored-params',
  mapped: 'x-gateway-mapped-params',
  model: 'x-gateway-model',
} as const;

const isSuccess = (status: number) => status >= 200 && status < 300;

const startOutcome = (req: FastifyRequest, key: KeyRecord, request: ImageRequest, deps: GatewayDeps): RequestOutcome => ({
  requestId: req.id,
  clientIp: req.ip || null,
  startedAt: deps.now(),
  key,
  request,
  promptHash: deps.hashPrompt(request.prompt),
  attempts: [],
  skips: [],
  ending: null,
  queueWaitMs: 0,
});

/** Names what the gateway did not honour as sent, so leniency is never silent. */
function announceFieldPolicy(reply: FastifyReply, request: ImageRequest): void {
  reply.header(FIELD_POLICY_HEADERS.model, request.model);
  if (request.ignoredParams.length > 0) reply.header(FIELD_POLICY_HEADERS.ignored, request.ignoredParams.join(','));
  if (request.mappedParams.length > 0) reply.header(FIELD_POLICY_HEADERS.mapped, request.mappedParams.join(','));
}

/** Plans, admits and picks the way to answer; every exit leaves `outcome.ending` set for the bookkeeping. */
async function dispatch(ctx: DispatchContext): Promise<void> {
  const { outcome } = ctx;
  const candidates = resolveCandidates(ctx);
  const fanOut = outcome.request.n > 1 && ctx.snapshot.settings.nMode === 'fanout';
  await admitRequestKey(ctx, !fanOut);
  if (outcome.request.stream && outcome.request.partialImages > 0) return dispatchResponsesStream(ctx, candidates);
  if (outcome.request.stream) return fanOut ? dispatchStreamFanOut(ctx) : dispatchStream(ctx, candidates);
  if (fanOut) return dispatchFanOut(ctx);
  return dispatchPlain(ctx, candidates);
}

/** One upstream call (failed over), its body piped to the client as it arrives. */
async function dispatchPlain(ctx: DispatchContext, candidates: readonly Candidate[]): Promise<void> {
  const { reply, deps, outcome } = ctx;
  const waitForSlot = buildRequestWait(ctx);
  const result = await runFailover({ ...buildFailoverInput(ctx, candidates, buildUpstreamBody(outcome.request)), ...(waitForSlot ? { waitForSlot } : {}) });
  outcome.attempts = result.attempts;
  outcome.skips = result.skips;
  if (result.kind === 'aborted') {
    outcome.ending = { kind: 'client_aborted' };
    reply.hijack(); // nobody is listening any more; do not let Fastify try to answer
    return;
  }
  if (result.kind === 'exhausted') {
    const error = buildExhaustionError(result.attempts, result.skips, deps.now());
    outcome.ending = { kind: 'exhausted', status: error.status, skips: result.skips };
    throw error;
  }
  ctx.permits.push(result.permit);
  const accountName = result.candidate.account.name;
  if (ctx.snapshot.settings.responsesFallback && !isSuccess(result.response.status)) {
    const info = await readUpstreamError(result.response.body, result.response.status);
    if (isImagesEndpointUnavailable(result.response.status, info)) {
      // The images endpoint is not there for this account: serve through the Responses API instead.
      result.permit.release();
      outcome.attempts.at(-1)!.errorClass = 'upstream_status';
      return dispatchResponsesJson(ctx, candidates);
    }
    const sent = await sendUpstreamErrorInfo(reply, result.response.status, info);
    outcome.ending = { kind: 'upstream', status: sent.status, accountName, metrics: null, streamError: null };
    return;
  }
  const sent = await sendUpstreamResponse(reply, result.response, outcome.request, {
    maxResponseBytes: deps.config.upstreamMaxResponseBytes,
    clientSignal: ctx.clientSignal,
    idleTimeoutMs: deps.config.upstreamBodyTimeoutMs,
    hosted: resolveHostedImages(deps, outcome.request),
    // Usage is journaled before the client has the last byte: a kill at any moment after the client
    // saw a success cannot lose its count.
    beforeLastBytes: (done) => {
      outcome.ending = { kind: 'upstream', status: done.status, accountName, metrics: done.metrics, streamError: null };
      recordOutcome(outcome, deps, reply);
    },
  });
  outcome.ending = { kind: 'upstream', status: sent.status, accountName, metrics: sent.metrics, streamError: sent.streamError };
}

/** POST /v1/images/{generations,edits}: validate, plan, admit, fail over, stream the answer, record. */
export function createImageHandler(endpoint: ImageEndpoint, deps: GatewayDeps) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const key = req.gatewayKey!; // set by the image gate (onRequest)
    const client = watchClientAbort(reply);
    const spool = createImageSpool({ dir: deps.spoolDir, ...spoolLimitsFor(req, deps.config) });
    const permits: Permit[] = [];
    let outcome: RequestOutcome | null = null;
    let spoolHandedOver = false;
    let budgetHold: BudgetHold | null = null;
    try {
      const snapshot = deps.snapshots.current() as Snapshot; // the gate refused requests before the first load
      const request = await parseImageBody(endpoint, req, deps.config, snapshot, spool).finally(() => req.endBodyDeadline?.());
      announceFieldPolicy(reply, request);
      outcome = startOutcome(req, key, request, deps);
      // Only a key with a quota waits on a reservation (an unlimited one costs one check, no await).
      if (hasQuota(key)) budgetHold = outcome.budgetHold = await reserveKeyBudget(key, snapshot, deps, request);
      if (deps.jobs && prefersAsync(req)) {
        const job = { key, snapshot, outcome, clientHeaders: req.headers, cleanup: () => spool.cleanup() };
        outcome = null; // the job records it when it ends
        await submitJob(deps.jobs, deps, reply, job);
        spoolHandedOver = true;
        return;
      }
      await dispatch({ req, reply, deps, snapshot, outcome, permits, clientSignal: client.signal, clientHeaders: req.headers });
    } finally {
      for (const permit of permits) permit.release();
      client.dispose();
      // Usage first, in the same turn the answer ended: nothing awaited between them, so a kill
      // cannot fall between a client's success and its journal line.
      if (outcome) recordOutcome(outcome, deps, reply);
      // A job took its reservation along; anything else is over, recorded or not (an error before dispatch records nothing).
      if (!spoolHandedOver) {
        budgetHold?.release();
        await spool.cleanup();
      }
    }
  };
}
