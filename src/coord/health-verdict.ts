import type { HealthReport } from './coord-types.js';

/**
 * What an attempt's end means for its account, by the in-process account health's rules: a 429 with
 * a reset hint pauses it until the reset; a 401 until its token changes; a 5xx, timeout or network
 * failure (and a 429 or auth failure without those specifics) backs it off; any other answer clears it.
 */
export type HealthVerdict = { kind: 'ignore' } | { kind: 'success' } | { kind: 'rate_limited'; askedMs: number } | { kind: 'auth' } | { kind: 'failure' };

/** Classes that say nothing about the account: the client left, or the attempt never reached it. */
const SILENT_CLASSES: ReadonlySet<string> = new Set(['client_aborted', 'concurrency_blocked', 'proxy_client', 'response_too_large']);

const FAILURE_CLASSES: ReadonlySet<string> = new Set(['upstream_server', 'upstream_timeout', 'upstream_request', 'rate_limited', 'auth']);

/** Classifies one attempt's end (pure). `askedMs` is rounded up to whole ms. */
export function classifyHealthReport(report: HealthReport): HealthVerdict {
  const cls = report.errorClass;
  if (cls !== null && SILENT_CLASSES.has(cls)) return { kind: 'ignore' };
  if (cls === 'rate_limited' && report.retryAfterSeconds !== null) return { kind: 'rate_limited', askedMs: Math.ceil(report.retryAfterSeconds * 1000) };
  if (cls === 'auth' && report.status === 401) return { kind: 'auth' };
  if (cls !== null && FAILURE_CLASSES.has(cls)) return { kind: 'failure' };
  return { kind: 'success' };
}
