import type { ErrorCode } from '../errors/codes.js';
import type { FailureClass } from '../observe/failure-classes.js';

/** Why one account attempt did not produce the final answer. */
export type SkipClass = Extract<
  FailureClass,
  'concurrency_blocked' | 'proxy_client' | 'upstream_request' | 'upstream_timeout' | 'response_too_large' | 'auth' | 'rate_limited' | 'upstream_server'
>;

const AUTH_CLASSES: ReadonlySet<SkipClass> = new Set(['auth']);

/**
 * The error for a request on which every candidate failed (spec §5.4, refined):
 * `accounts_busy` (429) when every account was only at its concurrency cap; otherwise judged by the
 * last real failure (busy skips do not hide it, unlike the original): an upstream timeout gives
 * `upstream_timeout` (504), an auth failure `no_usable_accounts` (503), anything else
 * `account_pool_exhausted` (502).
 */
export function exhaustionError(skips: readonly SkipClass[]): ErrorCode {
  const failures = skips.filter((s) => s !== 'concurrency_blocked');
  const last = failures.at(-1);
  if (last === undefined) return 'accounts_busy';
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

/**
 * When the pool is exhausted and the upstream said when its limits reset, the soonest of those
 * times (whole seconds, at least 1) for a `retry-after` header; null when no attempt said.
 * SDKs honour it, so a rate-limited pool is not hammered by client retries.
 */
export function exhaustionRetryAfterSeconds(attempts: ReadonlyArray<{ retryAfterSeconds: number | null }>): number | null {
  const hints = attempts.map((a) => a.retryAfterSeconds).filter((s): s is number => s !== null && Number.isFinite(s) && s >= 0);
  return hints.length === 0 ? null : Math.max(1, Math.ceil(Math.min(...hints)));
}
