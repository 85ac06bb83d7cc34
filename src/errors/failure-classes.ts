/**
 * Every `error_class` the request log and the metrics use besides the gateway error codes: the one
 * vocabulary, so a class added to the dispatch loop cannot silently become `other` in metrics.
 * Rooms that produce classes take their unions from here (`Extract<FailureClass, …>`).
 */
export const FAILURE_CLASSES = [
  // An account passed over or failed during the attempt loop.
  'concurrency_blocked',
  'proxy_client',
  'upstream_request',
  'upstream_timeout',
  'response_too_large',
  // Upstream status classes.
  'auth',
  'rate_limited',
  'upstream_server',
  'client_error',
  'upstream_status',
  // After the answer started streaming, or before any account was tried.
  'upstream_body',
  'client_aborted',
  'no_eligible_account',
  // Every account left was at its cap and the key's wait queue was full (ADMISSION_QUEUE_MAX_PER_KEY).
  'admission_queue_full',
  // Key limiter reasons.
  'key_max_concurrency',
  'key_min_start_interval',
] as const;

export type FailureClass = (typeof FAILURE_CLASSES)[number];
