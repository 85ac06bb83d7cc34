import type { PartOutcome, TrackEnding } from '../dispatch/request-outcome.js';
import { runFailover } from '../dispatch/run-failover.js';
import { runFanOut, type PartResult } from '../dispatch/run-fan-out.js';
import { buildUpstreamBody } from '../images/upstream-body.js';
import { buildExhaustionError, buildFailoverInput, planFor, type DispatchContext } from './dispatch-context.js';
import { combinePartMetrics, readPartBody, sendFanOutResponse, sendPartError, type PartBody } from './fan-out-response.js';

/** A part's body and the account that produced it. */
interface NamedPartBody {
  accountName: string;
  body: PartBody;
}

/**
 * Serves `n > 1` as n one-image upstream requests (setting `n_mode: fanout`): each part is planned,
 * admitted per account and failed over like a plain request, under the request's one key permit.
 * At least one image → 200 with what was produced (and headers saying how many); none → the first
 * part's upstream error, or the usual exhaustion error. Leaves `outcome.ending` set.
 */
export async function dispatchFanOut(ctx: DispatchContext): Promise<void> {
  const { deps, outcome, reply } = ctx;
  const request = outcome.request;
  // The Codex upstream makes one image per call and the Codex CLI never sends `n`.
  const body = buildUpstreamBody({ ...request, n: 1, nGiven: false });
  const readOptions = { maxResponseBytes: deps.config.upstreamMaxResponseBytes, idleTimeoutMs: deps.config.upstreamBodyTimeoutMs, signal: ctx.clientSignal };
  const parts = await runFanOut<NamedPartBody>({
    parts: request.n,
    signal: ctx.clientSignal,
    // Planned afresh for each try, so the parts spread over the accounts by load.
    failover: () => runFailover(buildFailoverInput(ctx, planFor(outcome.key, ctx.snapshot, deps).candidates, body)),
    consume: async (result) => ({ accountName: result.candidate.account.name, body: await readPartBody(result, request, readOptions) }),
  });
  const partOutcomes = parts.map((part) => toPartOutcome(part, deps.now()));
  const images = parts.flatMap((p) => (p.kind === 'done' && p.value.body.kind === 'image' ? [p.value.body] : []));
  const end = (status: number, produced: number) => {
    outcome.ending = { kind: 'fanout', status, produced, metrics: combinePartMetrics(images.map((i) => i.metrics)), parts: partOutcomes };
  };
  if (images.length > 0) {
    const produced = await sendFanOutResponse(reply, images.map((i) => i.json), request.n);
    return end(200, produced);
  }
  if (ctx.clientSignal.aborted) {
    reply.hijack(); // nobody is listening any more
    return end(499, 0);
  }
  const upstreamError = parts.map((p) => (p.kind === 'done' ? p.value.body : null)).find((b) => b?.kind === 'upstream_error');
  if (upstreamError?.kind === 'upstream_error') return end(await sendPartError(reply, upstreamError), 0);
  const error = buildExhaustionError(
    parts.flatMap((p) => p.attempts),
    parts.flatMap((p) => p.skips),
    deps.now(),
  );
  end(error.status, 0);
  throw error;
}

function toPartOutcome(part: PartResult<NamedPartBody>, nowMs: number): PartOutcome {
  return { attempts: part.attempts, skips: part.skips, ending: partEnding(part, nowMs) };
}

function partEnding(part: PartResult<NamedPartBody>, nowMs: number): TrackEnding {
  switch (part.kind) {
    case 'aborted':
      return { kind: 'client_aborted' };
    case 'exhausted':
      return { kind: 'exhausted', status: buildExhaustionError(part.attempts, part.skips, nowMs).status, skips: part.skips };
    case 'done': {
      const { accountName, body } = part.value;
      if (body.kind === 'upstream_error') return { kind: 'upstream', status: body.status, accountName, metrics: null, streamError: null };
      const streamError = body.kind === 'broken' ? body.streamError : null;
      return { kind: 'upstream', status: 200, accountName, metrics: body.metrics, streamError };
    }
  }
}
