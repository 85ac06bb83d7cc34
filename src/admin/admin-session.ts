import { randomBytes } from 'node:crypto';
import { isAdminTokenMatch } from '../control/api-key.js';

/** Name of the console's session cookie (scoped to `/admin`). */
export const SESSION_COOKIE = 'cig_admin_session';

/** The header a console session must send with every state-changing request. */
export const CSRF_HEADER = 'x-csrf-token';

/** A session expires after this long without a request (12 h). */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;

/** Most sessions kept at once; the least recently used one goes first beyond it. */
export const MAX_SESSIONS = 1000;

/** One signed-in browser: its random id (the cookie) and its CSRF token. */
export interface AdminSession {
  id: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

/** In-memory console sessions (a restart signs everyone out, which is fine for an operator console). */
export interface AdminSessionStore {
  /** Opens a session for a browser that presented the admin token. */
  create(): AdminSession;
  /** The live session with this id (its idle clock restarts), or null when unknown or expired. */
  touch(id: string): AdminSession | null;
  /** Ends the session; false when there was none. */
  delete(id: string): boolean;
  /** Live sessions now (tests and metrics). */
  size(): number;
}

/** Options of `createAdminSessionStore`. */
export interface SessionStoreOptions {
  now?: () => number;
  idleMs?: number;
  maxSessions?: number;
}

const randomToken = (): string => randomBytes(32).toString('base64url');

/** Builds the session store; ids and CSRF tokens are 256-bit random values. */
export function createAdminSessionStore(opts: SessionStoreOptions = {}): AdminSessionStore {
  const now = opts.now ?? Date.now;
  const idleMs = opts.idleMs ?? SESSION_IDLE_MS;
  const maxSessions = opts.maxSessions ?? MAX_SESSIONS;
  const sessions = new Map<string, AdminSession>();
  const isExpired = (s: AdminSession, at: number) => at - s.lastSeenAt >= idleMs;
  const sweep = (at: number) => {
    for (const [id, s] of sessions) if (isExpired(s, at)) sessions.delete(id);
  };
  return {
    create() {
      const at = now();
      sweep(at);
      while (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value as string);
      const session = { id: randomToken(), csrfToken: randomToken(), createdAt: at, lastSeenAt: at };
      sessions.set(session.id, session);
      return { ...session };
    },
    touch(id) {
      const found = sessions.get(id);
      if (!found) return null;
      const at = now();
      sessions.delete(id);
      if (isExpired(found, at)) return null;
      const live = { ...found, lastSeenAt: at };
      sessions.set(id, live);
      return { ...live };
    },
    delete: (id) => sessions.delete(id),
    size: () => sessions.size,
  };
}

/** True when the header carries exactly the session's CSRF token (constant-time comparison). */
export function isCsrfTokenMatch(header: string | string[] | undefined, session: AdminSession): boolean {
  return typeof header === 'string' && header.length > 0 && isAdminTokenMatch(header, session.csrfToken);
}

/** The value of one cookie in a `Cookie` header, or null. */
export function parseCookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** The `Set-Cookie` value carrying a session id (or clearing it when `value` is empty). */
export function buildSessionCookie(value: string, opts: { secure: boolean; maxAgeS: number }): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/admin', 'HttpOnly', 'SameSite=Strict', `Max-Age=${opts.maxAgeS}`];
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}
