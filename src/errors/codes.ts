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

export const ERRORS = {
  // Public image API: request shape (checked before any key or account is touched).
  unsupported_path: { status: 404, type: 'not_found_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' }, // GET /v1/models/{id}, unknown id (OpenAI's own code and type)
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unknown_field: { status: 400, type: 'invalid_request_error' },
  unsupported_value: { status: 400, type: 'invalid_request_error' },
  stream_not_supported: { status: 400, type: 'invalid_request_error' },
  file_id_not_supported: { status: 400, type: 'invalid_request_error' },
  invalid_image: { status: 400, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  // Key authentication and gates.
  missing_bearer: { status: 401, type: 'authentication_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  key_disabled: { status: 403, type: 'permission_error' },
  image_disabled: { status: 403, type: 'permission_error' },
  quota_exceeded: { status: 429, type: 'insufficient_quota' },
  key_rate_limited: { status: 429, type: 'rate_limit_error' },
  // Routing and failover outcomes.
  no_image_accounts: { status: 503, type: 'server_error' },
  no_usable_accounts: { status: 503, type: 'server_error' },
  accounts_busy: { status: 429, type: 'rate_limit_error' },
  account_pool_exhausted: { status: 502, type: 'server_error' },
  upstream_timeout: { status: 504, type: 'server_error' },
  accounts_cooling_down: { status: 503, type: 'server_error' }, // every usable account is pausing after 429/5xx/401
  accounts_need_reimport: { status: 503, type: 'server_error' }, // every account's refresh token was refused for good
  // Process state.
  not_ready: { status: 503, type: 'server_error' },
  shutting_down: { status: 503, type: 'server_error' },
  internal_error: { status: 500, type: 'server_error' },
  // Control plane (admin API and CLI share these).
  admin_unauthorized: { status: 401, type: 'authentication_error' },
  admin_forbidden: { status: 403, type: 'permission_error' }, // console session without its CSRF token, or a foreign Origin
  not_found: { status: 404, type: 'not_found_error' },
  conflict: { status: 409, type: 'invalid_request_error' },
} as const satisfies Record<string, { status: number; type: OpenAIErrorType }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error the gateway raises on purpose: a stable code, a human message, and the request field at fault. */
export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    opts?: ErrorOptions & { headers?: Record<string, string> },
  ) {
    super(message, opts);
    this.name = 'GatewayError';
    this.headers = opts?.headers ?? {};
  }

  /** Extra response headers (for example `retry-after`, `allow`). */
  readonly headers: Record<string, string>;

  get status(): number {
    return ERRORS[this.code].status;
  }
}

/** True when `err` is a GatewayError (works across module copies, unlike instanceof alone). */
export const isGatewayError = (err: unknown): err is GatewayError =>
  err instanceof GatewayError || (typeof err === 'object' && err !== null && (err as Error).name === 'GatewayError');
