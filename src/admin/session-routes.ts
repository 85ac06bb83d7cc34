import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAdminTokenMatch } from '../control/api-key.js';
import { GatewayError } from '../errors/codes.js';
import { assertCsrfSafe, isSameOrigin, resolveSession } from './admin-console-auth.js';
import { SESSION_IDLE_MS, buildSessionCookie, type AdminSessionStore } from './admin-session.js';

/**
 * True when the browser reached us over https (directly, or as the fronting proxy says).
 * X-Forwarded-Proto is believed from anyone on purpose: it can only add `Secure`, which makes the
 * cookie stricter; a client that lies gets a cookie its own browser will not send back over http.
 */
const isHttps = (req: FastifyRequest): boolean =>
  req.protocol === 'https' ||
  String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]
    ?.trim() === 'https';

const setCookie = (req: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number) =>
  reply.header('set-cookie', buildSessionCookie(value, { secure: isHttps(req), maxAgeS }));

const readToken = (body: unknown): string => {
  const token = typeof body === 'object' && body !== null ? (body as { token?: unknown }).token : undefined;
  if (typeof token !== 'string' || token.length === 0) throw new GatewayError('invalid_request', 'body must be {"token": "<admin token>"}', 'token');
  return token;
};

/**
 * Console sign-in: `POST /admin/session` `{token}` sets the HttpOnly session cookie and answers the
 * CSRF token; `GET /admin/session` answers it again for a live session (401 otherwise);
 * `POST /admin/session/logout` ends the session and clears the cookie. The token travels only in
 * the JSON body, never in a URL.
 */
export function registerSessionRoutes(app: FastifyInstance, adminToken: string, sessions: AdminSessionStore): void {
  app.post('/admin/session', async (req, reply) => {
    if (!isSameOrigin(req)) throw new GatewayError('admin_forbidden', 'cross-origin request refused');
    if (!isAdminTokenMatch(readToken(req.body), adminToken)) throw new GatewayError('admin_unauthorized', 'invalid admin token');
    const session = sessions.create();
    setCookie(req, reply, session.id, Math.floor(SESSION_IDLE_MS / 1000));
    return reply.code(201).send({ signed_in: true, csrf_token: session.csrfToken });
  });

  app.get('/admin/session', async (req) => {
    const session = resolveSession(req, sessions);
    if (session === null) throw new GatewayError('admin_unauthorized', 'not signed in');
    return { signed_in: true, csrf_token: session.csrfToken };
  });

  app.post('/admin/session/logout', async (req, reply) => {
    const session = resolveSession(req, sessions);
    if (session !== null) {
      assertCsrfSafe(req, session);
      sessions.delete(session.id);
    }
    setCookie(req, reply, '', 0);
    return reply.code(204).send();
  });
}
