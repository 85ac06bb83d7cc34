/**
 * CORS for the public API, so that a browser app on another origin can call the gateway with a
 * bearer key. Off while the `cors_allowed_origins` setting is empty; read from the snapshot on every
 * request, so a change applies at the next reload. Never on operator paths, never credentials.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CORS_ANY_ORIGIN } from '../store/cors-origin.js';
import { UPSTREAM_PASSTHROUGH_HEADERS } from '../upstream/upstream-headers.js';
import { FAN_OUT_HEADERS } from './fan-out-response.js';
import { FIELD_POLICY_HEADERS } from './image-handler.js';
import type { SnapshotSource } from './gateway-deps.js';

/** Methods a cross-origin page may use (the public API is POST and GET; OPTIONS is the preflight). */
export const CORS_ALLOWED_METHODS = ['POST', 'GET', 'OPTIONS'] as const;

/**
 * Request headers a cross-origin page may send (lower-case): what the OpenAI SDKs and the AI SDK
 * send from a browser, plus the headers the gateway passes upstream. `x-stainless-*` is allowed by
 * prefix (CORS_ALLOWED_REQUEST_HEADER_PREFIX), since its names vary between SDK versions.
 */
export const CORS_ALLOWED_REQUEST_HEADERS = [
  'accept',
  'authorization',
  'content-type',
  'idempotency-key',
  'openai-organization',
  'openai-project',
  'user-agent',
  ...UPSTREAM_PASSTHROUGH_HEADERS,
] as const;

/** Any requested header starting with this is allowed: the OpenAI SDKs' `x-stainless-*` client telemetry. */
export const CORS_ALLOWED_REQUEST_HEADER_PREFIX = 'x-stainless-';

/** Response headers a cross-origin page may read, beyond the CORS-safelisted ones (content-type, …). */
export const CORS_EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  ...Object.values(FIELD_POLICY_HEADERS),
  ...Object.values(FAN_OUT_HEADERS),
] as const;

/** How long a browser may reuse a preflight answer (seconds): a narrowed origin list reaches open pages within this. */
export const CORS_PREFLIGHT_MAX_AGE_S = 600;

/** Operator paths (probes, metrics, the admin-token status API): no CORS, whatever the setting. */
export const CORS_EXCLUDED_PATHS = ['/healthz', '/readyz', '/metrics', '/status'] as const;

const ALLOW_METHODS = CORS_ALLOWED_METHODS.join(', ');
const EXPOSE_HEADERS = CORS_EXPOSED_HEADERS.join(', ');
const ALLOWED_HEADER_SET: ReadonlySet<string> = new Set(CORS_ALLOWED_REQUEST_HEADERS);
const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

/** True for a path that never gets CORS (an exact excluded path or anything below it); the query is ignored. */
export function isCorsExcludedPath(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return CORS_EXCLUDED_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * The `access-control-allow-origin` value for a request's `Origin`: `*` when the list is `['*']`, the
 * origin itself when the list holds it exactly, else null (refused; the list is stored normalised,
 * as browsers send it).
 */
export function resolveCorsAllowOrigin(allowed: readonly string[], origin: string): string | null {
  if (allowed.includes(CORS_ANY_ORIGIN)) return CORS_ANY_ORIGIN;
  return allowed.includes(origin) ? origin : null;
}

/** True when a requested header name (any case) may be sent cross-origin. */
export const isCorsAllowedRequestHeader = (name: string): boolean =>
  ALLOWED_HEADER_SET.has(name) || (name.startsWith(CORS_ALLOWED_REQUEST_HEADER_PREFIX) && name.length > CORS_ALLOWED_REQUEST_HEADER_PREFIX.length);

/**
 * The `access-control-allow-headers` value for a preflight's `Access-Control-Request-Headers`: the
 * requested names that are allowed, lower-cased, deduplicated, in request order ('' when none).
 * Echoed rather than listed because the header cannot say "x-stainless-*"; a refused name is left
 * out, so the browser blocks the request.
 */
export function buildCorsAllowHeaders(requested: string | undefined): string {
  const names = (requested ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter(isCorsAllowedRequestHeader);
  return [...new Set(names)].join(', ');
}

/** A CORS preflight: OPTIONS with `Origin` and `Access-Control-Request-Method` (any other OPTIONS is a plain request). */
export const isCorsPreflight = (req: FastifyRequest): boolean =>
  req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;

/** Headers of a preflight answer for an allowed origin. */
function buildPreflightHeaders(allowOrigin: string, requestedHeaders: string | undefined): Record<string, string> {
  const allowHeaders = buildCorsAllowHeaders(requestedHeaders);
  return {
    'access-control-allow-origin': allowOrigin,
    'access-control-allow-methods': ALLOW_METHODS,
    ...(allowHeaders ? { 'access-control-allow-headers': allowHeaders } : {}),
    'access-control-max-age': String(CORS_PREFLIGHT_MAX_AGE_S),
  };
}

/**
 * The app-wide `onRequest` hook. With CORS off (empty list) or on an excluded path it does nothing.
 * Otherwise every answer carries `vary` (it depends on `Origin`), and:
 * - a preflight is answered here with 204, before any route hook (no bearer, no 405, not counted as
 *   an image request), carrying the allow headers only when the origin is allowed;
 * - any other request from an allowed origin gets `access-control-allow-origin` and
 *   `access-control-expose-headers`, set before the route runs so that errors carry them too.
 * A refused origin gets no `access-control-*` header; `access-control-allow-credentials` is never sent.
 */
export function createCorsHook(snapshots: SnapshotSource) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const allowed = snapshots.current()?.settings.corsAllowedOrigins ?? [];
    if (allowed.length === 0 || isCorsExcludedPath(req.url)) return undefined;
    const origin = req.headers.origin;
    const allowOrigin = origin === undefined ? null : resolveCorsAllowOrigin(allowed, origin);
    if (isCorsPreflight(req)) {
      reply.header('vary', PREFLIGHT_VARY);
      if (allowOrigin) reply.headers(buildPreflightHeaders(allowOrigin, req.headers['access-control-request-headers']));
      reply.code(204).send();
      return reply;
    }
    reply.header('vary', 'Origin');
    if (allowOrigin) reply.headers({ 'access-control-allow-origin': allowOrigin, 'access-control-expose-headers': EXPOSE_HEADERS });
    return undefined;
  };
}
