import type { FailureClass } from '../errors/failure-classes.js';

/**
 * Classification of upstream failures, by error `code` (stable strings, never message text) and by HTTP status.
 * Pure predicates: the dispatch loop decides what to do with the answers.
 */

/** Codes of the errors this room raises itself (stable; dashboards and tests key on them). */
export const UPSTREAM_ERROR_CODES = {
  /** The whole-attempt timer (`attemptTimeoutMs`) fired before the attempt finished. */
  attemptTimeout: 'UPSTREAM_ATTEMPT_TIMEOUT',
  /** The caller's signal aborted the attempt (the client went away, or shutdown). */
  clientAborted: 'UPSTREAM_CLIENT_ABORTED',
  /** The response passed `maxResponseBytes` (by Content-Length up front, or while streaming). */
  responseTooLarge: 'UPSTREAM_RESPONSE_TOO_LARGE',
  /** A SOCKS proxy refused, failed or closed the tunnel. */
  socksProxy: 'SOCKS_PROXY_ERROR',
  /** The SOCKS proxy did not complete its handshake within the connect timeout. */
  socksTimeout: 'SOCKS_PROXY_TIMEOUT',
} as const;

export type UpstreamErrorCode = (typeof UPSTREAM_ERROR_CODES)[keyof typeof UPSTREAM_ERROR_CODES];

/**
 * An upstream attempt that failed for one of our own reasons; `code` is one of UPSTREAM_ERROR_CODES.
 * Messages never hold a URL, token or proxy credential. `name` is `TimeoutError`/`AbortError` for the
 * timeout and abort codes, like the DOM errors they replace.
 */
export class UpstreamFailureError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = nameForCode(code);
  }
}

function nameForCode(code: UpstreamErrorCode): string {
  if (code === UPSTREAM_ERROR_CODES.attemptTimeout || code === UPSTREAM_ERROR_CODES.socksTimeout) return 'TimeoutError';
  if (code === UPSTREAM_ERROR_CODES.clientAborted) return 'AbortError';
  return 'UpstreamFailureError';
}

/** Network-level failures: the request did not get a usable answer because the connection failed. */
const TRANSPORT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_PRX_TLS',
  // The client maps aborts by our own signals to UPSTREAM_CLIENT_ABORTED / UPSTREAM_ATTEMPT_TIMEOUT, so an
  // UND_ERR_ABORTED that is left is undici giving up on its own (e.g. an http proxy refusing CONNECT).
  'UND_ERR_ABORTED',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  UPSTREAM_ERROR_CODES.socksProxy,
  UPSTREAM_ERROR_CODES.socksTimeout,
]);

/** Timeouts: ours (whole attempt) and undici's (connect, headers, body inactivity). */
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  UPSTREAM_ERROR_CODES.attemptTimeout,
  UPSTREAM_ERROR_CODES.socksTimeout,
]);

const codeOf = (err: unknown): string => (typeof err === 'object' && err !== null ? String((err as { code?: unknown }).code ?? '') : '');

const nameOf = (err: unknown): string => (typeof err === 'object' && err !== null ? String((err as { name?: unknown }).name ?? '') : '');

/**
 * True for connection-level failures that justify trying the next account (connect refused/reset/
 * timed out, DNS, socket closed, TLS, proxy tunnel). Undici wraps some causes: `cause.code` counts too.
 * Headers/body/attempt timeouts are not transport errors: see isTimeoutError.
 */
export function isTransportError(err: unknown): boolean {
  if (TRANSPORT_CODES.has(codeOf(err))) return true;
  const cause = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;
  return cause !== undefined && TRANSPORT_CODES.has(codeOf(cause));
}

/**
 * True for any timeout on the attempt: connect, headers, body inactivity, or the whole-attempt timer
 * (`UPSTREAM_ATTEMPT_TIMEOUT`, or a bare DOM `TimeoutError` from AbortSignal.timeout).
 * False for a client abort, which is not the upstream's fault.
 */
export function isTimeoutError(err: unknown): boolean {
  return TIMEOUT_CODES.has(codeOf(err)) || nameOf(err) === 'TimeoutError';
}

/** True when the response passed the size cap. */
export function isResponseTooLargeError(err: unknown): boolean {
  return codeOf(err) === UPSTREAM_ERROR_CODES.responseTooLarge;
}

/** Upstream statuses worth retrying on another account: 401, 403, 429 and 500..599. */
export function shouldFailover(status: number): boolean {
  return status === 401 || status === 403 || status === 429 || (status >= 500 && status <= 599);
}

/** The status class written to logs for a non-2xx upstream answer. */
export type UpstreamStatusClass = Extract<FailureClass, 'auth' | 'rate_limited' | 'upstream_server' | 'client_error' | 'upstream_status'>;

/** Maps a non-2xx upstream status to its log class; 2xx gives null (no error). */
export function statusClass(status: number): UpstreamStatusClass | null {
  if (status >= 200 && status < 300) return null;
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status >= 500 && status < 600) return 'upstream_server';
  if (status >= 400 && status < 500) return 'client_error';
  return 'upstream_status';
}

/** Statuses with which the images endpoint may say it is not there for an account. */
const UNAVAILABLE_STATUSES: ReadonlySet<number> = new Set([404, 405, 410]);
/** Statuses that may carry an "unsupported" refusal of the endpoint or the model on it. */
const REFUSAL_STATUSES: ReadonlySet<number> = new Set([400, 403, 422]);
const UNSUPPORTED_WORDING = /unsupported|not supported/i;

/**
 * True when an images-endpoint answer says the endpoint is unavailable rather than the request wrong:
 * 404/405/410, or a 400/403/422 whose code or message says "unsupported" / "not supported" (the
 * ChatGPT backend's FastAPI refusals). The Responses fallback (setting `responses_fallback`) then
 * serves the request; a content-policy block or a bad field is never mistaken for it.
 */
export function isImagesEndpointUnavailable(status: number, info: { code: string | null; message: string }): boolean {
  if (UNAVAILABLE_STATUSES.has(status)) return true;
  return REFUSAL_STATUSES.has(status) && UNSUPPORTED_WORDING.test(`${info.code ?? ''} ${info.message}`);
}
