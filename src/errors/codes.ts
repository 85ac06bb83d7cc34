/**
 * The one table of gateway error codes. Each code has an HTTP status and an OpenAI error `type`.
 * Codes are append-only: never rename or reuse one (clients and dashboards key on them).
 */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error';

/**
 * What a client should do after an error, the one place that says it (the error mapper turns it
 * into headers; docs/errors.md's retry table is checked against it):
 * - `never`: no retry can change the answer (bad input, auth, configuration): `x-should-retry: false`.
 * - `after`: a 429/503 the gateway raises while something frees up: always `retry-after` and
 *   `retry-after-ms`, computed where the gateway knows when (else DEFAULT_RETRY_AFTER_MS).
 * - `backoff`: a failure with no known end (500/502/504): no header of ours unless an upstream
 *   said when its limit resets; the SDKs apply their own backoff.
 */
export type RetryPolicy = 'never' | 'after' | 'backoff';

export const ERRORS = {
  // Public image API: request shape (checked before any key or account is touched).
  unsupported_path: { status: 404, type: 'not_found_error', retry: 'never' },
  model_not_found: { status: 404, type: 'invalid_request_error', retry: 'never' }, // GET /v1/models/{id}, unknown id (OpenAI's own code and type)
  job_not_found: { status: 404, type: 'not_found_error', retry: 'never' }, // GET/DELETE /v1/images/jobs/{id}: unknown, malformed, another key's, or deleted
  method_not_allowed: { status: 405, type: 'invalid_request_error', retry: 'never' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', retry: 'never' },
  invalid_json: { status: 400, type: 'invalid_request_error', retry: 'never' },
  invalid_request: { status: 400, type: 'invalid_request_error', retry: 'never' },
  unknown_field: { status: 400, type: 'invalid_request_error', retry: 'never' },
  unsupported_field: { status: 400, type: 'invalid_request_error', retry: 'never' }, // a field the strict field policy refuses instead of dropping
  unsupported_value: { status: 400, type: 'invalid_request_error', retry: 'never' },
  stream_not_supported: { status: 400, type: 'invalid_request_error', retry: 'never' }, // retired (stream: true is served); kept so it is never reused
  file_id_not_supported: { status: 400, type: 'invalid_request_error', retry: 'never' },
  invalid_image: { status: 400, type: 'invalid_request_error', retry: 'never' },
  body_too_large: { status: 413, type: 'invalid_request_error', retry: 'never' },
  // Key authentication and gates.
  missing_bearer: { status: 401, type: 'authentication_error', retry: 'never' },
  invalid_api_key: { status: 401, type: 'authentication_error', retry: 'never' },
  key_disabled: { status: 403, type: 'permission_error', retry: 'never' },
  key_expired: { status: 401, type: 'authentication_error', retry: 'never' }, // the key's expires_at has passed
  image_disabled: { status: 403, type: 'permission_error', retry: 'never' },
  quota_exceeded: { status: 429, type: 'insufficient_quota', retry: 'never' },
  key_rate_limited: { status: 429, type: 'rate_limit_error', retry: 'after' },
  job_queue_full: { status: 429, type: 'rate_limit_error', retry: 'after' }, // Prefer: respond-async while the key already has job_max_queued_per_key queued jobs
  // Routing and failover outcomes.
  no_image_accounts: { status: 503, type: 'server_error', retry: 'never' },
  no_usable_accounts: { status: 503, type: 'server_error', retry: 'after' },
  accounts_busy: { status: 429, type: 'rate_limit_error', retry: 'after' },
  admission_queue_full: { status: 429, type: 'rate_limit_error', retry: 'after' }, // every account left at its cap, and the key already has ADMISSION_QUEUE_MAX_PER_KEY requests waiting for one
  account_pool_exhausted: { status: 502, type: 'server_error', retry: 'backoff' },
  upstream_timeout: { status: 504, type: 'server_error', retry: 'backoff' },
  accounts_cooling_down: { status: 503, type: 'server_error', retry: 'after' }, // every usable account is pausing after 429/5xx/401
  accounts_need_reimport: { status: 503, type: 'server_error', retry: 'never' }, // every account's refresh token was refused for good
  accounts_rate_limited: { status: 429, type: 'rate_limit_error', retry: 'after' }, // every account tried (or usable) is rate-limited upstream
  // Process state.
  not_ready: { status: 503, type: 'server_error', retry: 'after' },
  shutting_down: { status: 503, type: 'server_error', retry: 'after' },
  internal_error: { status: 500, type: 'server_error', retry: 'backoff' },
  // Control plane (admin API and CLI share these).
  admin_unauthorized: { status: 401, type: 'authentication_error', retry: 'never' },
  admin_forbidden: { status: 403, type: 'permission_error', retry: 'never' }, // console session without its CSRF token, or a foreign Origin
  not_found: { status: 404, type: 'not_found_error', retry: 'never' },
  conflict: { status: 409, type: 'invalid_request_error', retry: 'never' },
  // Hosted result URLs (RESULT_URL_MODE=hosted).
  result_not_found: { status: 404, type: 'not_found_error', retry: 'never' }, // GET /v1/images/results/{token}: unknown, malformed or expired
  result_store_failed: { status: 500, type: 'server_error', retry: 'backoff' }, // the image was made but could not be stored for its hosted URL
  // Requests Node's HTTP parser refuses before any route sees them (answered on the raw socket).
  request_headers_too_large: { status: 431, type: 'invalid_request_error', retry: 'never' },
  request_timeout: { status: 408, type: 'invalid_request_error', retry: 'never' },
  expectation_failed: { status: 417, type: 'invalid_request_error', retry: 'never' },
  // Process-wide admission caps (answered before any body is read).
  too_many_connections: { status: 503, type: 'server_error', retry: 'after' }, // MAX_CONNECTIONS open client connections already; answered on the raw socket, then closed
  body_budget_exhausted: { status: 503, type: 'server_error', retry: 'after' }, // MAX_BODY_BYTES_IN_FLIGHT of request bodies are being read already; refused before the body is read
} as const satisfies Record<string, { status: number; type: OpenAIErrorType; retry: RetryPolicy }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error the gateway raises on purpose: a stable code, a human message, and the request field at fault. */
export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    opts?: ErrorOptions & { headers?: Record<string, string>; retryAfterMs?: number | null },
  ) {
    super(message, opts);
    this.name = 'GatewayError';
    this.headers = opts?.headers ?? {};
    this.retryAfterMs = opts?.retryAfterMs ?? null;
  }

  /** Extra response headers (for example `allow`); retry headers come from `retryAfterMs` and the table. */
  readonly headers: Record<string, string>;

  /** When the gateway knows it, how long until a retry can succeed (ms); null = the table's default. */
  readonly retryAfterMs: number | null;

  get status(): number {
    return ERRORS[this.code].status;
  }
}

/** True when `err` is a GatewayError (works across module copies, unlike instanceof alone). */
export const isGatewayError = (err: unknown): err is GatewayError =>
  err instanceof GatewayError || (typeof err === 'object' && err !== null && (err as Error).name === 'GatewayError');
