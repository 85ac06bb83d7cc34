import type { UpstreamBody } from '../images/image-request.js';
import type { AccountLimiter } from '../limits/account-limiter.js';
import type { Permit } from '../limits/permit.js';
import type { UpstreamClient, UpstreamEndpoint, UpstreamResponse } from '../upstream/types.js';
import { isTimeoutError, shouldFailover, statusClass } from '../upstream/upstream-failures.js';
import { readUpstreamError } from '../upstream/upstream-error.js';
import type { Candidate } from './plan-candidates.js';
import type { AttemptRecord, SkipClass } from './exhaustion.js';

export interface FailoverInput {
  endpoint: UpstreamEndpoint;
  body: UpstreamBody;
  candidates: readonly Candidate[];
  signal: AbortSignal;
  clientHeaders: Record<string, string | string[] | undefined>;
  codexClientVersion: string;
  upstream: UpstreamClient;
  accountLimiter: AccountLimiter;
  now: () => number;
  /**
   * Told about every attempt as it ends (health, metrics). A promise it returns (a report to the
   * instances' shared health) is awaited before a failed attempt's slot goes back and the request
   * moves on or answers, so no instance is admitted to that account before the report lands.
   */
  onAttempt?: (attempt: AttemptRecord) => void | Promise<void>;
  /**
   * Asked once an account's permit is taken, right before its upstream call: null goes ahead (and may
   * take the account's re-probe); a skip class passes the account over without calling it. Planning
   * only peeks at account health, so this is where trying an account takes anything from it.
   */
  claimAttempt?: (candidate: Candidate) => SkipClass | null;
  /** Told each time an account permit is taken and claimed, before the upstream is called (a stream starts its answer then). */
  onPermit?: () => void;
  /**
   * Where slots come from instead of `accountLimiter` and `claimAttempt` (a coordinator shared by
   * every instance). Absent = the first free candidate, in order, in this process (takeLocalSlot).
   */
  takeSlot?: TakeSlot;
  /** A slot already taken on one candidate (after a wait): that candidate is tried first, without taking another. */
  held?: HeldSlot;
  /**
   * Asked when a pass ends with some candidates passed over only because they were at their caps
   * (the others failed for real, or there were none): waits for one of them to free a slot (the
   * admission queue). With a slot, the still-blocked candidates are tried again, the freed one
   * first; the real failures are not retried. Absent = never wait (today's instant `accounts_busy`).
   */
  waitForSlot?: WaitForSlot;
}

/** An account slot taken while waiting: its candidate and its permit (released by whoever ends up holding it). */
export interface HeldSlot {
  candidate: Candidate;
  permit: Permit;
  /** True when the account was already claimed for the attempt (its re-probe taken, if due); else the attempt claims it. */
  claimed?: boolean;
}

/** One take: the candidates passed over on the way (and why), and the slot taken, if any. */
export interface SlotTake {
  passed: Array<{ candidate: Candidate; skip: SkipClass }>;
  slot: HeldSlot | null;
}

/** Takes a slot, claimed for one attempt, on the best of `candidates` (those a pass has not tried yet). */
export type TakeSlot = (candidates: readonly Candidate[]) => Promise<SlotTake>;

/** How a wait for a slot ended: a slot, nothing (time up, client gone), or no place in the key's queue. */
export type SlotWait = { kind: 'taken'; slot: HeldSlot } | { kind: 'gave_up' } | { kind: 'queue_full' };

/** Waits for a slot on one of `blocked`, every one of which was at its cap. */
export type WaitForSlot = (blocked: readonly Candidate[]) => Promise<SlotWait>;

export type FailoverResult =
  | { kind: 'final'; response: UpstreamResponse; candidate: Candidate; permit: Permit; attempts: AttemptRecord[]; skips: SkipClass[] }
  | { kind: 'exhausted'; attempts: AttemptRecord[]; skips: SkipClass[] }
  | { kind: 'aborted'; attempts: AttemptRecord[]; skips: SkipClass[] };

type AttemptOutcome = { kind: 'final'; response: UpstreamResponse; permit: Permit } | { kind: 'skip'; skip: SkipClass } | { kind: 'aborted' };

/** One pass over candidates: how it ended, its skips in order, and the candidates passed over at their cap. */
type PassResult =
  | { kind: 'final'; response: UpstreamResponse; candidate: Candidate; permit: Permit; skips: SkipClass[]; blocked: Candidate[] }
  | { kind: 'exhausted' | 'aborted'; skips: SkipClass[]; blocked: Candidate[] };

/**
 * Tries the candidates in order, each at most once, until one gives a final answer: any status that
 * is not worth failing over for (2xx, and 4xx other than 401/403/429). The final attempt's account
 * permit is handed to the caller, which releases it once the body has been streamed. With
 * `waitForSlot`, candidates that were only at their cap are waited for and tried again. The skips
 * of a request that never waited are exactly its one pass's; after waits, they are every real
 * failure in order, then the last pass's skips.
 */
export async function runFailover(input: FailoverInput): Promise<FailoverResult> {
  const attempts: AttemptRecord[] = [];
  const failures: SkipClass[] = [];
  let pass = await runPass(input, input.candidates, input.held ?? null, attempts);
  for (;;) {
    const skips = [...failures, ...pass.skips];
    if (pass.kind === 'final') return { kind: 'final', response: pass.response, candidate: pass.candidate, permit: pass.permit, attempts, skips };
    if (pass.kind === 'aborted' || pass.blocked.length === 0 || !input.waitForSlot) return { kind: pass.kind, attempts, skips };
    const waited = await input.waitForSlot(pass.blocked);
    if (waited.kind !== 'taken') {
      if (input.signal.aborted) return { kind: 'aborted', attempts, skips };
      return { kind: 'exhausted', attempts, skips: waited.kind === 'queue_full' ? [...skips, 'admission_queue_full'] : skips };
    }
    failures.push(...pass.skips.filter((s) => s !== 'concurrency_blocked'));
    pass = await runPass(input, pass.blocked, waited.slot, attempts);
  }
}

/** Takes a slot on the first of `blocked`, in order, that is below its cap in this process; null while every one is full. */
export function takeFreeSlot(blocked: readonly Candidate[], accountLimiter: AccountLimiter): HeldSlot | null {
  for (const candidate of blocked) {
    const permit = accountLimiter.tryAcquire(candidate.account.id, candidate.account.imageConcurrency);
    if (permit) return { candidate, permit };
  }
  return null;
}

/**
 * The first of `candidates`, in order, whose slot is free in this process (`capOf`, by default
 * the account's cap) and which `claim` lets through (account health); the candidates before it
 * are passed over, at their cap or cooling down. A slot whose claim refuses goes back at once.
 */
export function takeLocalSlot(
  candidates: readonly Candidate[],
  accountLimiter: AccountLimiter,
  claim: ((candidate: Candidate) => SkipClass | null) | undefined,
  capOf: (candidate: Candidate) => number = (c) => c.account.imageConcurrency,
): SlotTake {
  const passed: SlotTake['passed'] = [];
  for (const candidate of candidates) {
    const permit = accountLimiter.tryAcquire(candidate.account.id, capOf(candidate));
    if (!permit) {
      passed.push({ candidate, skip: 'concurrency_blocked' });
      continue;
    }
    const refused = claimOrRelease(candidate, permit, claim);
    if (refused === null) return { passed, slot: { candidate, permit, claimed: true } };
    passed.push({ candidate, skip: refused });
  }
  return { passed, slot: null };
}

/** Claims the account for the held `permit`: null to go ahead; the skip after giving the permit back; a throw gives it back too. */
function claimOrRelease(candidate: Candidate, permit: Permit, claim: ((candidate: Candidate) => SkipClass | null) | undefined): SkipClass | null {
  try {
    const refused = claim?.(candidate) ?? null;
    if (refused !== null) permit.release();
    return refused;
  } catch (err) {
    permit.release();
    throw err;
  }
}

/**
 * One pass over `candidates` (the held slot's first), each tried at most once: a slot is taken
 * right before each attempt, from the candidates not tried yet (so a shared coordinator can pick
 * the least loaded of them by the whole deployment's load).
 */
async function runPass(input: FailoverInput, candidates: readonly Candidate[], held: HeldSlot | null, attempts: AttemptRecord[]): Promise<PassResult> {
  const skips: SkipClass[] = [];
  const blocked: Candidate[] = [];
  const take: TakeSlot = input.takeSlot ?? (async (untried) => takeLocalSlot(untried, input.accountLimiter, input.claimAttempt));
  let untried = held ? candidates.filter((c) => c.account.id !== held.candidate.account.id) : [...candidates];
  let slot = held;
  for (;;) {
    if (!slot) {
      if (untried.length === 0 || input.signal.aborted) break;
      const took = await take(untried);
      for (const { candidate, skip } of took.passed) {
        skips.push(skip);
        if (skip === 'concurrency_blocked') blocked.push(candidate);
      }
      const passed = took.passed.length > 0 ? new Set(took.passed.map((p) => p.candidate)) : null;
      untried = untried.filter((c) => c !== took.slot?.candidate && !passed?.has(c));
      if (!took.slot) break;
      slot = took.slot;
    }
    if (input.signal.aborted) {
      slot.permit.release();
      return { kind: 'aborted', skips, blocked };
    }
    const outcome = await attemptOne(slot, input, attempts);
    if (outcome.kind === 'final') return { ...outcome, candidate: slot.candidate, skips, blocked };
    if (outcome.kind === 'aborted') return { kind: 'aborted', skips, blocked };
    skips.push(outcome.skip);
    slot = null;
  }
  return { kind: input.signal.aborted ? 'aborted' : 'exhausted', skips, blocked };
}

/** One attempt on `slot.candidate`, its slot held (and claimed, unless a wait took it unclaimed). */
async function attemptOne(slot: HeldSlot, input: FailoverInput, attempts: AttemptRecord[]): Promise<AttemptOutcome> {
  const { candidate } = slot;
  const { account, credentials } = candidate;
  const taken = startAttempt(slot, input);
  if ('skip' in taken) return { kind: 'skip', skip: taken.skip };
  const { permit } = taken;
  const record = async (fields: Pick<AttemptRecord, 'status' | 'ttfbMs' | 'errorClass' | 'retryAfterSeconds'>): Promise<void> => {
    const attempt: AttemptRecord = { accountId: account.id, accountName: account.name, endedAt: input.now(), ...fields };
    attempts.push(attempt);
    try {
      await input.onAttempt?.(attempt);
    } catch {
      // An observer (health, metrics) must never cost the request its permit or its response.
    }
  };
  let response: UpstreamResponse;
  try {
    response = await input.upstream.send(
      {
        endpoint: input.endpoint,
        body: input.body,
        accessToken: credentials.accessToken,
        chatgptAccountId: credentials.chatgptAccountId ?? account.chatgptAccountId,
        fedramp: credentials.fedramp,
        proxyUrl: account.proxyUrl,
        clientHeaders: input.clientHeaders,
        codexClientVersion: input.codexClientVersion,
      },
      input.signal,
    );
  } catch (err) {
    if (input.signal.aborted) {
      permit.release();
      void record({ status: null, ttfbMs: null, errorClass: 'client_aborted', retryAfterSeconds: null });
      return { kind: 'aborted' };
    }
    const skip = classifySendError(err);
    await record({ status: null, ttfbMs: null, errorClass: skip, retryAfterSeconds: null });
    permit.release();
    return { kind: 'skip', skip };
  }
  if (!shouldFailover(response.status)) {
    void record({
      status: response.status,
      ttfbMs: response.ttfbMs,
      errorClass: response.status < 300 ? null : statusClass(response.status),
      retryAfterSeconds: null,
    });
    return { kind: 'final', response, permit };
  }
  const info = await readUpstreamError(response.body, response.status, { nowMs: input.now() });
  const skip = statusClass(response.status) as SkipClass;
  // Reported before the slot goes back: a waiter woken by its release must find the cooldown already set.
  await record({ status: response.status, ttfbMs: response.ttfbMs, errorClass: skip, retryAfterSeconds: info.resetsInSeconds ?? null });
  permit.release();
  return { kind: 'skip', skip };
}

/**
 * Claims the slot's account for this attempt when its take did not (claimAttempt), then tells
 * onPermit. The slot goes back when the claim refuses, and when a hook throws (the error then
 * reaches the caller): a slot is either handed on or released, never lost.
 */
function startAttempt(slot: HeldSlot, input: FailoverInput): { permit: Permit } | { skip: SkipClass } {
  const { permit } = slot;
  if (!slot.claimed) {
    const refused = claimOrRelease(slot.candidate, permit, input.claimAttempt);
    if (refused !== null) return { skip: refused };
  }
  try {
    input.onPermit?.();
    return { permit };
  } catch (err) {
    permit.release();
    throw err;
  }
}

/** Maps a failed send to a skip class by error code (never by message text). */
function classifySendError(err: unknown): SkipClass {
  const code = typeof err === 'object' && err !== null ? String((err as { code?: unknown }).code ?? '') : '';
  if (code === 'INVALID_PROXY_URL') return 'proxy_client';
  if (code === 'UPSTREAM_RESPONSE_TOO_LARGE') return 'response_too_large';
  if (isTimeoutError(err)) return 'upstream_timeout';
  // Unknown failures are treated like transport errors: another account may well succeed.
  return 'upstream_request';
}
