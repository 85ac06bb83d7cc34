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
  /** Told about every attempt as it ends (metrics). */
  onAttempt?: (attempt: AttemptRecord) => void;
  /**
   * Asked once an account's permit is taken, right before its upstream call: null goes ahead (and may
   * take the account's re-probe); a skip class passes the account over without calling it. Planning
   * only peeks at account health, so this is where trying an account takes anything from it.
   */
  claimAttempt?: (candidate: Candidate) => SkipClass | null;
  /** Told each time an account permit is taken and claimed, before the upstream is called (a stream starts its answer then). */
  onPermit?: () => void;
}

export type FailoverResult =
  | { kind: 'final'; response: UpstreamResponse; candidate: Candidate; permit: Permit; attempts: AttemptRecord[]; skips: SkipClass[] }
  | { kind: 'exhausted'; attempts: AttemptRecord[]; skips: SkipClass[] }
  | { kind: 'aborted'; attempts: AttemptRecord[]; skips: SkipClass[] };

type AttemptOutcome = { kind: 'final'; response: UpstreamResponse; permit: Permit } | { kind: 'skip'; skip: SkipClass } | { kind: 'aborted' };

/**
 * Tries the candidates in order, each at most once, until one gives a final answer: any status that
 * is not worth failing over for (2xx, and 4xx other than 401/403/429). The final attempt's account
 * permit is handed to the caller, which releases it once the body has been streamed.
 */
export async function runFailover(input: FailoverInput): Promise<FailoverResult> {
  const attempts: AttemptRecord[] = [];
  const skips: SkipClass[] = [];
  for (const candidate of input.candidates) {
    if (input.signal.aborted) return { kind: 'aborted', attempts, skips };
    const outcome = await attemptOne(candidate, input, attempts);
    if (outcome.kind === 'final') return { ...outcome, candidate, attempts, skips };
    if (outcome.kind === 'aborted') return { kind: 'aborted', attempts, skips };
    skips.push(outcome.skip);
  }
  return { kind: input.signal.aborted ? 'aborted' : 'exhausted', attempts, skips };
}

async function attemptOne(candidate: Candidate, input: FailoverInput, attempts: AttemptRecord[]): Promise<AttemptOutcome> {
  const { account, credentials } = candidate;
  const taken = takeAccount(candidate, input);
  if ('skip' in taken) return { kind: 'skip', skip: taken.skip };
  const { permit } = taken;
  const record = (fields: Pick<AttemptRecord, 'status' | 'ttfbMs' | 'errorClass' | 'retryAfterSeconds'>) => {
    const attempt: AttemptRecord = { accountId: account.id, accountName: account.name, endedAt: input.now(), ...fields };
    attempts.push(attempt);
    try {
      input.onAttempt?.(attempt);
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
    permit.release();
    if (input.signal.aborted) {
      record({ status: null, ttfbMs: null, errorClass: 'client_aborted', retryAfterSeconds: null });
      return { kind: 'aborted' };
    }
    const skip = classifySendError(err);
    record({ status: null, ttfbMs: null, errorClass: skip, retryAfterSeconds: null });
    return { kind: 'skip', skip };
  }
  if (!shouldFailover(response.status)) {
    record({
      status: response.status,
      ttfbMs: response.ttfbMs,
      errorClass: response.status < 300 ? null : statusClass(response.status),
      retryAfterSeconds: null,
    });
    return { kind: 'final', response, permit };
  }
  const info = await readUpstreamError(response.body, response.status, { nowMs: input.now() });
  permit.release();
  const skip = statusClass(response.status) as SkipClass;
  record({ status: response.status, ttfbMs: response.ttfbMs, errorClass: skip, retryAfterSeconds: info.resetsInSeconds ?? null });
  return { kind: 'skip', skip };
}

/**
 * Takes the account's slot and claims the account for this attempt (claimAttempt, then onPermit).
 * The slot goes back when the claim refuses, and when a hook throws (the error then reaches the
 * caller): a slot taken here is either handed on or released, never lost.
 */
function takeAccount(candidate: Candidate, input: FailoverInput): { permit: Permit } | { skip: SkipClass } {
  const permit = input.accountLimiter.tryAcquire(candidate.account.id, candidate.account.imageConcurrency);
  if (!permit) return { skip: 'concurrency_blocked' };
  try {
    const refused = input.claimAttempt?.(candidate) ?? null;
    if (refused !== null) {
      permit.release();
      return { skip: refused };
    }
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
