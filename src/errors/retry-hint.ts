import { assertNever } from '../guards/assert-never.js';
import { ERRORS, type ErrorCode, type RetryPolicy } from './codes.js';

/**
 * The wait the gateway asks for when it cannot know when things free up: a key at its concurrency
 * cap, every account at its own cap, a process starting or draining (1 s). A generation takes tens
 * of seconds, so no honest estimate exists; one second is a poll that catches a slot freed by a
 * fast failure or a finished request without letting a client spin, and with the SDKs' two
 * retries it keeps a refused call's extra latency to about two seconds.
 */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/** The pair of retry headers: `retry-after` in whole seconds (at least 1), `retry-after-ms` in integer ms (at least 1). */
export interface RetryHeaders {
  'retry-after': string;
  'retry-after-ms': string;
}

/**
 * Builds both retry headers from one wait in ms (the only place that writes them). Seconds round up,
 * so a client honouring `retry-after` alone is never early; the openai SDKs prefer `retry-after-ms`.
 */
export function buildRetryHeaders(waitMs: number): RetryHeaders {
  const ms = Math.max(1, Math.ceil(Number.isFinite(waitMs) ? waitMs : DEFAULT_RETRY_AFTER_MS));
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))), 'retry-after-ms': String(ms) };
}

/**
 * The retry headers an error with `code` carries (see RetryPolicy in codes.ts): `x-should-retry:
 * false` for `never` (with the retry headers too when a wait was computed); both retry headers for `after` (the computed wait, else DEFAULT_RETRY_AFTER_MS);
 * for `backoff`, retry headers only when a wait was computed.
 */
export function buildRetryPolicyHeaders(code: ErrorCode, retryAfterMs: number | null): Record<string, string> {
  const policy: RetryPolicy = ERRORS[code].retry;
  switch (policy) {
    case 'never':
      // A wait may still be known (a budget's reset): said, for clients that schedule, while SDKs stay off.
      return retryAfterMs === null ? { 'x-should-retry': 'false' } : { 'x-should-retry': 'false', ...buildRetryHeaders(retryAfterMs) };
    case 'after':
      return { ...buildRetryHeaders(retryAfterMs ?? DEFAULT_RETRY_AFTER_MS) };
    case 'backoff':
      return retryAfterMs === null ? {} : { ...buildRetryHeaders(retryAfterMs) };
    default:
      return assertNever(policy);
  }
}
