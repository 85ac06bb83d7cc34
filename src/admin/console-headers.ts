import type { FastifyInstance } from 'fastify';

/** The console's Content-Security-Policy: only this origin, no inline code, never framed. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Security headers on every control-plane response (harmless on JSON, required on the console pages). */
export const CONSOLE_SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const satisfies Record<string, string>;

/** Adds CONSOLE_SECURITY_HEADERS to every response of `app`. */
export function registerConsoleHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(CONSOLE_SECURITY_HEADERS);
  });
}
