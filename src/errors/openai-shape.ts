import { ERRORS, type ErrorCode, type OpenAIErrorType, isGatewayError } from './codes.js';
import { buildRetryPolicyHeaders } from './retry-hint.js';

/** The OpenAI error body: all four keys always present, `param`/`code` may be null. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface OpenAIErrorResponse {
  status: number;
  body: OpenAIErrorBody;
  headers: Record<string, string>;
}

/** Fastify's own error codes that reach the error handler, mapped to ours (the second small table). */
const FASTIFY_CODES = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', message: 'request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: 'unsupported content type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', message: 'invalid content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'request body must be valid JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', message: 'request body must be valid JSON' },
  FST_ERR_CTP_EMPTY_TYPE: { code: 'unsupported_media_type', message: 'unsupported content type' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'unsupported_media_type', message: 'unsupported content type' },
  FST_REQ_FILE_TOO_LARGE: { code: 'body_too_large', message: 'uploaded file is too large' },
  FST_PARTS_LIMIT: { code: 'body_too_large', message: 'too many multipart parts' },
  FST_FILES_LIMIT: { code: 'body_too_large', message: 'too many uploaded files' },
  FST_FIELDS_LIMIT: { code: 'body_too_large', message: 'too many multipart fields' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: 'invalid_request', message: 'invalid multipart body' },
  FST_ERR_VALIDATION: { code: 'invalid_request', message: 'invalid request' },
} as const satisfies Record<string, { code: ErrorCode; message: string }>;

interface BuildExtras {
  headers?: Record<string, string>;
  retryAfterMs?: number | null;
}

/** The response for `code`; its retry headers come from the ERRORS table's `retry` policy. */
const build = (code: ErrorCode, message: string, param: string | null, extras: BuildExtras = {}) => ({
  status: ERRORS[code].status,
  body: { error: { message, type: ERRORS[code].type as OpenAIErrorType, param, code } },
  headers: { ...buildRetryPolicyHeaders(code, extras.retryAfterMs ?? null), ...extras.headers },
});

/**
 * Maps any thrown value to an OpenAI-shaped error response. The only mapper in the codebase:
 * GatewayError through ERRORS, Fastify errors through FASTIFY_CODES, JSON syntax errors to 400,
 * and anything else to a generic 500 whose details never reach the client. Every response carries
 * the retry headers of its code's policy (`x-should-retry: false`, or `retry-after` + `retry-after-ms`).
 */
export function toOpenAIError(err: unknown): OpenAIErrorResponse {
  if (isGatewayError(err)) return build(err.code, err.message, err.param, { headers: err.headers, retryAfterMs: err.retryAfterMs ?? null });
  const code = typeof err === 'object' && err !== null ? String((err as { code?: unknown }).code ?? '') : '';
  if (Object.hasOwn(FASTIFY_CODES, code)) {
    const mapped = FASTIFY_CODES[code as keyof typeof FASTIFY_CODES];
    return build(mapped.code, mapped.message, null);
  }
  if (err instanceof SyntaxError || (err as { statusCode?: number })?.statusCode === 400) {
    return build('invalid_json', 'request body must be valid JSON', null);
  }
  return build('internal_error', 'internal error', null);
}

/** Builds an OpenAI-shaped body carrying an upstream's own status, message and code. */
export function upstreamErrorBody(message: string, type: string, code: string | null): OpenAIErrorBody {
  return { error: { message, type, param: null, code } };
}

/** The OpenAI error `type` the SDKs expect for a given HTTP status. */
export function openAITypeForStatus(status: number): OpenAIErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
