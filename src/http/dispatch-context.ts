import type { FastifyReply, FastifyRequest } from 'fastify';
import { COOLDOWN_SKIP_CLASS } from '../dispatch/account-health.js';
import { explainExhaustion, type AttemptRecord, type SkipClass } from '../dispatch/exhaustion.js';
import { explainEmptyPlan } from '../dispatch/plan-exhaustion.js';
import { planCandidates, type Candidate, type CandidatePlan } from '../dispatch/plan-candidates.js';
import type { RequestOutcome } from '../dispatch/request-outcome.js';
import type { CoordinatedSlots } from '../dispatch/coordinated-slots.js';
import { takeFreeSlot, type FailoverInput, type HeldSlot, type SlotWait, type TakeSlot, type WaitForSlot } from '../dispatch/run-failover.js';
import type { KeyGate } from '../coord/coord-types.js';
import { describeKeyLimitRejection, type KeyAdmission, type KeyLimitReason } from '../limits/key-limiter.js';
import { GatewayError } from '../errors/codes.js';
import type { UpstreamBody } from '../images/image-request.js';
import type { AdmissionResult } from '../limits/admission-queue.js';
import type { Permit } from '../limits/permit.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import type { GatewayDeps } from './gateway-deps.js';

/** One admitted request on its way through dispatch, with or without an HTTP exchange (async jobs have none). */
export interface DispatchCore {
  deps: GatewayDeps;
  snapshot: Snapshot;
  outcome: RequestOutcome;
  /** Released by the owner once the answer is complete. */
  permits: Permit[];
  /** Aborts when the client goes away (or the job is cancelled). */
  clientSignal: AbortSignal;
  /** The client's headers, for the few that may pass upstream (trace context). */
  clientHeaders: Record<string, string | string[] | undefined>;
  /**
   * With REDIS_URL: the key's gates, still to be applied by the request's first account take (one
   * script call admits the key and takes the account; see admitRequestKey). Cleared by that take.
   */
  pendingKeyGate?: KeyGate;
}

/** A dispatch that answers over HTTP. */
export interface DispatchContext extends DispatchCore {
  req: FastifyRequest;
  reply: FastifyReply;
}

/** Plans the accounts to try for this key, in order (by load, then least recently started). */
export function planFor(key: KeyRecord, snapshot: Snapshot, deps: GatewayDeps): CandidatePlan {
  const health = deps.coordination ?? deps.health;
  return planCandidates(key, snapshot, {
    now: deps.now(),
    allowFreePlans: deps.config.allowFreePlanAccounts,
    inFlight: (id) => deps.accountLimiter.inFlight(id),
    lastStartMs: (id) => deps.accountLimiter.lastStartMs(id),
    ...(health ? { cooldownOf: (id: string, token: string) => health.peekCooldown(id, token) } : {}),
  });
}

/**
 * The accounts to try for the request's key, in order. When there are none, the request ends here,
 * exhausted before any account was asked (so it is counted like any refusal a key's request got,
 * under no account), and the explanation is thrown.
 */
export function resolveCandidates(ctx: DispatchCore): Candidate[] {
  const { deps, outcome } = ctx;
  const plan = planFor(outcome.key, ctx.snapshot, deps);
  if (plan.candidates.length > 0) return plan.candidates;
  const why = explainEmptyPlan(plan, deps.now());
  const error = new GatewayError(why.code, why.message, null, { retryAfterMs: why.retryAfterMs });
  outcome.ending = { kind: 'exhausted', status: error.status, skips: [], refusal: why.code };
  throw error;
}

/**
 * Tells account health how an attempt ended, and the control plane about a 401 (refresh now). With
 * REDIS_URL the report goes to the instances' shared health: its promise settles once Redis has it.
 */
function reportAttempt(attempt: AttemptRecord, candidates: readonly Candidate[], deps: GatewayDeps): Promise<void> | undefined {
  if (attempt.status === 401) deps.onAuthFailure?.(attempt.accountId);
  const candidate = candidates.find((c) => c.account.id === attempt.accountId);
  if (!candidate) return undefined;
  if (deps.coordination) return deps.coordination.report(attempt, candidate);
  deps.health?.report(attempt, candidate.credentials.accessToken);
  return undefined;
}

/**
 * Takes the request's key place, or throws the original's 429 (recording why on the outcome).
 * With REDIS_URL and `foldIntoFirstTake` (a request with one failover track), nothing is sent yet:
 * the gates ride on the first account take, so admission costs one script call.
 */
export async function admitRequestKey(ctx: DispatchCore, foldIntoFirstTake: boolean): Promise<void> {
  const { deps, outcome } = ctx;
  const key = outcome.key;
  const coordination = deps.coordination;
  if (coordination && foldIntoFirstTake) {
    ctx.pendingKeyGate = { keyId: key.id, maxConcurrency: key.maxConcurrency, minStartIntervalMs: key.minStartIntervalMs };
    return;
  }
  const admission = await takeKeyPlace(deps, key);
  if (!admission.admitted) throw refuseKey(ctx, admission);
  ctx.permits.push(admission.permit);
}

/** The key's place on its own: one script call with REDIS_URL, else this process's key limiter. */
export function takeKeyPlace(deps: GatewayDeps, key: KeyRecord): KeyAdmission | Promise<KeyAdmission> {
  return deps.coordination ? deps.coordination.admitKey(key.id, key) : deps.keyLimiter.admit(key.id, key);
}

/** The key's refusal as the original's 429, its reason on the outcome and in the limiter metric. */
function refuseKey(ctx: DispatchCore, refusal: { reason: KeyLimitReason; inFlight: number; retryAfterMs: number }): GatewayError {
  const key = ctx.outcome.key;
  ctx.outcome.ending = { kind: 'key_limited', reason: refusal.reason };
  ctx.deps.metrics.limiterRejections.inc({ limiter: 'key' });
  return new GatewayError('key_rate_limited', describeKeyLimitRejection(refusal.reason, refusal.inFlight, key), null, { retryAfterMs: refusal.retryAfterMs });
}

/**
 * A failover's takes through the coordinator (REDIS_URL): the first one also applies the key's
 * pending gates, and the key's place it returns joins the request's permits.
 */
function buildCoordinatedTake(ctx: DispatchCore, coordination: CoordinatedSlots): TakeSlot {
  const claim = (c: Candidate) => claimAttempt(c, ctx.deps);
  return async (untried) => {
    const gate = ctx.pendingKeyGate ?? null;
    ctx.pendingKeyGate = undefined;
    const gated = await coordination.takeGated(untried, claim, gate);
    if (gated.kind === 'key_refused') throw refuseKey(ctx, gated);
    if (gated.keyPermit) ctx.permits.push(gated.keyPermit);
    return gated.take;
  };
}

/**
 * How a waiter of `keyId` takes a slot on one of `blocked`: with REDIS_URL through its ticket in the
 * shared order (`joined` when it enters the local queue, `ended` however the wait ended), else this
 * process's limiter.
 */
export function openWaitingTake(
  deps: GatewayDeps,
  keyId: string,
  blocked: readonly Candidate[],
): { tryTake: () => Promise<HeldSlot | null>; joined: () => void; ended: (result: AdmissionResult<HeldSlot>['kind']) => void } {
  if (!deps.coordination) return { tryTake: async () => takeFreeSlot(blocked, deps.accountLimiter), joined: () => {}, ended: () => {} };
  const ticket = deps.coordination.openTicket(keyId, blocked, (c) => claimAttempt(c, deps));
  return {
    tryTake: () => ticket.take(),
    joined: () => ticket.join(),
    // A take ended the ticket; a full queue never joined.
    ended: (kind) => {
      if (kind !== 'taken' && kind !== 'queue_full') ticket.leave();
    },
  };
}

/** Takes the account from account health as it is really tried (its re-probe, if due); why not when it cools down. */
function claimAttempt(candidate: Candidate, deps: GatewayDeps): SkipClass | null {
  const cooldown = deps.health?.claimAttempt(candidate.account.id, candidate.credentials.accessToken) ?? null;
  return cooldown ? COOLDOWN_SKIP_CLASS[cooldown.cause] : null;
}

/** The input of one failover run over `candidates` with `body`. */
export function buildFailoverInput(ctx: DispatchCore, candidates: readonly Candidate[], body: UpstreamBody): FailoverInput {
  const { deps } = ctx;
  return {
    endpoint: ctx.outcome.request.endpoint,
    body,
    candidates,
    signal: ctx.clientSignal,
    clientHeaders: ctx.clientHeaders,
    codexClientVersion: ctx.snapshot.settings.codexClientVersion,
    upstream: deps.upstream,
    accountLimiter: deps.accountLimiter,
    now: deps.now,
    onAttempt: (attempt) => reportAttempt(attempt, candidates, deps),
    claimAttempt: (c) => claimAttempt(c, deps),
    ...(deps.coordination ? { takeSlot: buildCoordinatedTake(ctx, deps.coordination) } : {}),
  };
}

/** The error for a request on which every candidate failed, with a retry hint when the upstream said when. */
export function buildExhaustionError(attempts: readonly AttemptRecord[], skips: readonly SkipClass[], nowMs: number): GatewayError {
  const why = explainExhaustion({ attempts, skips }, nowMs);
  return new GatewayError(why.code, why.message, null, { retryAfterMs: why.retryAfterMs });
}

/** How one wait for a slot behaves; the defaults are a plain request's. */
export interface SlotWaitOptions {
  /** Ends the wait: the client went away (for a fan-out part, also: its time is up and no sibling holds a slot). */
  signal: AbortSignal;
  /** Longest wait (ms); Infinity = until `signal`. */
  timeoutMs: number;
  /** The request is in the queue (a stream starts its answer, so its keep-alive flows while it waits). */
  onQueued?: () => void;
  /** Called synchronously when the slot is taken, before the wait settles. */
  onTaken?: () => void;
  /** Told how long the wait lasted (ms), however it ended. */
  onWaited: (waitedMs: number) => void;
}

/**
 * Waits in the admission queue, in this key's turn, for a slot on one of `blocked` (every one at
 * its cap), taken through the coordinator with REDIS_URL or else the local account limiter. Every
 * wait is observed in the queue-wait histogram by how it ended.
 */
export async function waitForSlot(ctx: DispatchCore, blocked: readonly Candidate[], opts: SlotWaitOptions): Promise<SlotWait> {
  const { deps } = ctx;
  const waiting = openWaitingTake(deps, ctx.outcome.key.id, blocked);
  const result = await deps.admission
    .wait<HeldSlot>({
      keyId: ctx.outcome.key.id,
      accountIds: blocked.map((c) => c.account.id),
      tryTake: async () => {
        const slot = await waiting.tryTake();
        if (slot) opts.onTaken?.();
        return slot;
      },
      giveBack: (slot) => slot.permit.release(),
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      onQueued: () => {
        waiting.joined();
        opts.onQueued?.();
      },
    })
    .catch((err: unknown) => {
      // A wait that failed leaves too: a ticket left joined would go on being renewed, holding its key's shared order.
      waiting.ended('aborted');
      throw err;
    });
  waiting.ended(result.kind);
  deps.metrics.queueWait.observe({ result: result.kind }, result.waitedMs / 1000);
  opts.onWaited(result.waitedMs);
  switch (result.kind) {
    case 'taken':
      return { kind: 'taken', slot: result.value };
    case 'queue_full':
      return { kind: 'queue_full' };
    default:
      return { kind: 'gave_up' };
  }
}

/**
 * How a one-track request (plain, stream, Responses) waits for a capped account: at most
 * ADMISSION_WAIT_MS in all, counted into `outcome.queueWaitMs`; undefined when that is 0 (the
 * instant `accounts_busy`, exactly as without a queue).
 */
export function buildRequestWait(ctx: DispatchCore, hooks: { onQueued?: () => void } = {}): WaitForSlot | undefined {
  const budgetMs = ctx.deps.config.admissionWaitMs;
  if (budgetMs <= 0) return undefined;
  return (blocked) =>
    waitForSlot(ctx, blocked, {
      signal: ctx.clientSignal,
      timeoutMs: Math.max(0, budgetMs - ctx.outcome.queueWaitMs),
      ...hooks,
      onWaited: (ms) => {
        ctx.outcome.queueWaitMs += ms;
      },
    });
}
