import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every gateway API key starts with this, so leaked keys are recognisable (and scannable). */
export const API_KEY_PREFIX = 'cig_';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 43 base62 characters carry 256 bits: the full entropy of 32 random bytes. */
const SECRET_CHARS = 43;
/** Characters after `cig_` kept for display, so an operator can tell keys apart without the secret. */
const DISPLAY_CHARS = 8;
/** Largest multiple of 62 below 256: bytes at or above it are redrawn, so every character is uniform. */
const UNBIASED_LIMIT = 248;

/** Lowercase hex SHA-256 of a key secret: what is stored and what the data plane looks keys up by. */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new key secret: `cig_` + 43 base62 characters from the system CSPRNG (256 bits). */
export function generateApiKeySecret(): string {
  let out = '';
  while (out.length < SECRET_CHARS) {
    for (const byte of randomBytes(SECRET_CHARS)) {
      if (byte < UNBIASED_LIMIT && out.length < SECRET_CHARS) out += BASE62[byte % 62];
    }
  }
  return API_KEY_PREFIX + out;
}

/** The display prefix of a secret: `cig_` and the next 8 characters. */
export function buildKeyDisplayPrefix(secret: string): string {
  return secret.slice(0, API_KEY_PREFIX.length + DISPLAY_CHARS);
}

/**
 * The token of an `Authorization` header: split on the first space, the scheme must be `bearer`
 * (any case), the rest is trimmed and must not be empty (the original's rule). Null otherwise.
 * One parser for both planes, so a key and the admin token are read the same way.
 */
export function parseBearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return null;
  const token = header.slice(space + 1).trim();
  return token === '' ? null : token;
}

const digestOf = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * True when `candidate` equals `expected` (the admin token, a console session's CSRF token). Both
 * sides are hashed first so timingSafeEqual always compares 32 bytes: neither the content nor the
 * length of the secret leaks through timing.
 */
export function isAdminTokenMatch(candidate: string, expected: string): boolean {
  return timingSafeEqual(digestOf(candidate), digestOf(expected));
}
