import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * Paths pino replaces with `[redacted]` in app logs: a second net behind the rule that secrets are never
 * passed to the logger in the first place.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.accessToken',
  '*.refreshToken',
  '*.idToken',
  '*.secret',
  '*.prompt',
  '*.b64_json',
  '*.image_url',
  '*.password',
] as const;

/** What stands in for a query string in a logged URL (a client may put a token there). */
export const REDACTED_QUERY = '?[redacted]';

/** `url` with its query string (if any) replaced by {@link REDACTED_QUERY}. */
export function redactQueryString(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at) + REDACTED_QUERY;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number } | null;
}

/**
 * Log serializers of both Fastify apps: Fastify's own `req` shape, but the URL loses its query string
 * (`?token=…` is refused, yet would otherwise be written to the log in clear).
 */
export const APP_LOG_SERIALIZERS = {
  req: (req: LoggedRequest) => ({
    method: req.method,
    url: typeof req.url === 'string' ? redactQueryString(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
} satisfies LoggerOptions['serializers'];

/** A child of `logger` whose request serializer drops query strings; what the Fastify apps log through. */
export function withRedactedUrls<L extends { child(bindings: object, options?: { serializers?: LoggerOptions['serializers'] }): L }>(logger: L): L {
  return logger.child({}, { serializers: APP_LOG_SERIALIZERS });
}

/** The process logger (JSON lines on stdout), with secrets and query strings redacted. */
export function createAppLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' }, serializers: APP_LOG_SERIALIZERS, base: { pid: process.pid } },
    destination ?? process.stdout,
  );
}

/** An error's code and message for the app log (never a stack full of request data). */
export function errorSummary(err: unknown): { code?: string; message: string } {
  if (err instanceof Error) return { code: (err as { code?: string }).code, message: err.message };
  return { message: String(err) };
}
