import pino, { type Logger } from 'pino';

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

/** The process logger (JSON lines on stdout), with secrets redacted. */
export function createAppLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' }, base: { pid: process.pid } },
    destination ?? process.stdout,
  );
}
