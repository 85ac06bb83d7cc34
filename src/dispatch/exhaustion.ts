import type { ErrorCode } from '../errors/codes.js';
import type { FailureClass } from '../errors/failure-classes.js';

/** Why one account attempt did not produce the final answer. */
export type SkipClass = Extract<
  FailureClass,
  | 'concurrency_blocked'
  | 'admission_queue_full'
  | 'proxy_client'
  | 'upstream_request'
  | 'upstream_timeout'
  | 'response_too_large'
  | 'auth'
  | 'rate_limited'
  | 'upstream_server'
>;

/** Skips that are not real failures: an account at its cap, and no place to wait for one. */
const CAPACITY_SKIPS: ReadonlySet<SkipClass> = new Set(['concurrency_blocked', 'admission_queue_full']);

/** One request that reached an upstream account (or failed on the way there). */
export interface AttemptRecord {
  accountId: string;
  accountName: string;
  /** Upstream status; null when no response arrived (transport error, timeout). */
  status: number | null;
  ttfbMs: number | null;
  errorClass: Extract<FailureClass, SkipClass | 'client_error' | 'upstream_status' | 'client_aborted'> | null;
  /** Seconds the upstream asked us to wait (429 `resets_in_seconds`), when it said. */
  retryAfterSeconds: number | null;
  endedAt: number;
}

const AUTH_CLASSES: ReadonlySet<SkipClass> = new Set(['auth']);

/**
 * The error for a request on which every candidate failed (the original's rule, refined):
 * `admission_queue_full` (429) when it would have waited for an account at its cap but its key's
 * wait queue was full (whatever else failed: waiting was the way on);
 * `accounts_busy` (429) when every account was only at its concurrency cap; `accounts_rate_limited`
 * (429) when every real failure was an upstream 429 (busy skips aside), so the SDKs raise their
 * rate-limit error and honour its reset; otherwise judged by the last real failure (busy skips do
 * not hide it, unlike the original): an upstream timeout gives `upstream_timeout` (504), an auth
 * failure `no_usable_accounts` (503), anything else `account_pool_exhausted` (502).
 */
export function exhaustionError(skips: readonly SkipClass[]): ErrorCode {
  if (skips.includes('admission_queue_full')) return 'admission_queue_full';
  const failures = skips.filter((s) => !CAPACITY_SKIPS.has(s));
  const last = failures.at(-1);
  if (last === undefined) return 'accounts_busy';
  if (failures.every((s) => s === 'rate_limited')) return 'accounts_rate_limited';
  if (last === 'upstream_timeout') return 'upstream_timeout';
  if (AUTH_CLASSES.has(last)) return 'no_usable_accounts';
  return 'account_pool_exhausted';
}

/** The exhaustion message: the original's sentence plus a count of what happened, never an account secret. */
export function describeExhaustion(skips: readonly SkipClass[]): string {
  const base = 'all eligible codex image accounts failed for this request';
  if (skips.length === 0) return base;
  const counts = new Map<SkipClass, number>();
  for (const s of skips) counts.set(s, (counts.get(s) ?? 0) + 1);
  const detail = [...counts].map(([cls, n]) => `${n} ${cls}`).join(', ');
  return `${base} (${detail})`;
}

/** What an exhaustion needs from each attempt: when it ended and the reset its upstream announced. */
export interface ResetHint {
  /** When the attempt ended (ms since epoch). */
  endedAt: number;
  /** Seconds until the upstream's limit resets, counted from `endedAt`; null when it did not say. */
  retryAfterSeconds: number | null;
}

/**
 * When the pool is exhausted and upstreams said when their limits reset, the time from `nowMs`
 * until the soonest of those resets (ms, at least 0; each reset counts from the end of its own
 * attempt, not from now); null when no attempt said. SDKs honour it, so a rate-limited pool is not
 * hammered by client retries.
 */
export function exhaustionRetryAfterMs(attempts: readonly ResetHint[], nowMs: number): number | null {
  const resets = attempts
    .filter((a) => a.retryAfterSeconds !== null && Number.isFinite(a.retryAfterSeconds) && a.retryAfterSeconds >= 0)
    .map((a) => a.endedAt + (a.retryAfterSeconds as number) * 1000);
  return resets.length === 0 ? null : Math.max(0, Math.min(...resets) - nowMs);
}

/** Why a dispatched request got no answer: the error code, its message, and the wait to ask for. */
export interface ExhaustionExplanation {
  code: ErrorCode;
  message: string;
  /** ms until the soonest announced reset; null when none was announced (the code's default applies). */
  retryAfterMs: number | null;
}

/** The refusal of a request that found no place in its key's wait queue. */
export const QUEUE_FULL_MESSAGE =
  'every eligible codex image account is at its image_concurrency cap and this key already has as many requests waiting as ADMISSION_QUEUE_MAX_PER_KEY allows; retry later';

/** Explains an exhausted failover (pure): exhaustionError, describeExhaustion and exhaustionRetryAfterMs together. */
export function explainExhaustion(result: { skips: readonly SkipClass[]; attempts: readonly ResetHint[] }, nowMs: number): ExhaustionExplanation {
  const code = exhaustionError(result.skips);
  return {
    code,
    message: code === 'admission_queue_full' ? QUEUE_FULL_MESSAGE : describeExhaustion(result.skips),
    retryAfterMs: exhaustionRetryAfterMs(result.attempts, nowMs),
  };
}
