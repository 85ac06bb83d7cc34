import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isAdminTokenMatch, parseBearerToken } from '../control/api-key.js';
import { GatewayError } from '../errors/codes.js';
import { CSRF_HEADER, SESSION_COOKIE, isCsrfTokenMatch, parseCookieValue, type AdminSession, type AdminSessionStore } from './admin-session.js';

/** Methods that change nothing: a session cookie alone may call them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** True when the request's Origin header is absent or names the host it was sent to. */
export function isSameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** The live console session of a request (its cookie), or null. */
export function resolveSession(req: FastifyRequest, sessions: AdminSessionStore): AdminSession | null {
  const id = parseCookieValue(req.headers.cookie, SESSION_COOKIE);
  return id === null ? null : sessions.touch(id);
}

/**
 * Rejects a state-changing request of a cookie session that lacks its CSRF token or comes from another origin.
 * @throws GatewayError('admin_forbidden')
 */
export function assertCsrfSafe(req: FastifyRequest, session: AdminSession): void {
  if (SAFE_METHODS.has(req.method)) return;
  if (!isSameOrigin(req)) throw new GatewayError('admin_forbidden', 'cross-origin request refused');
  if (!isCsrfTokenMatch(req.headers[CSRF_HEADER], session)) throw new GatewayError('admin_forbidden', `missing or wrong ${CSRF_HEADER} header`);
}

/**
 * The `/admin/api/*` guard: `Authorization: Bearer <admin token>` (scripts, the CLI) or a console
 * session cookie, which for POST/PATCH/PUT/DELETE also needs the session's CSRF header and, when an
 * Origin is sent, the same origin. A request with an Authorization header is judged on it alone.
 * @throws GatewayError('admin_unauthorized') 401, or ('admin_forbidden') 403 for the CSRF rule.
 */
export function registerConsoleAuth(app: FastifyInstance, adminToken: string, sessions: AdminSessionStore): void {
  if (adminToken.length === 0) throw new Error('admin token must not be empty');
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (req.headers.authorization !== undefined) {
      const token = parseBearerToken(req.headers.authorization);
      if (token === null) throw new GatewayError('admin_unauthorized', 'admin API requires Authorization: Bearer <admin token>');
      if (!isAdminTokenMatch(token, adminToken)) throw new GatewayError('admin_unauthorized', 'invalid admin token');
      return;
    }
    const session = resolveSession(req, sessions);
    if (session === null) throw new GatewayError('admin_unauthorized', 'admin API requires Authorization: Bearer <admin token> or a console session');
    assertCsrfSafe(req, session);
  });
}
