import { isJsonObject } from '../guards/is-json-object.js';

/**
 * Reading JWT payloads without verifying them: the gateway only needs claims it is not trusting for
 * security (expiry, account id, plan, email), and the upstream checks the signature itself.
 */

/**
 * Decodes the payload (second segment) of a JWT: base64url, padded or not. Returns null for anything
 * that is not a three-part token with a JSON object payload. Never throws.
 */
export function decodeJwtPayload(token: unknown): Record<string, unknown> | null {
  if (typeof token !== 'string') return null;
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  const segment = parts[1].replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return null;
  try {
    const payload: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return isJsonObject(payload) ? payload : null;
  } catch {
    return null;
  }
}

/** The token's `exp` claim in ms since epoch, or null when it is not a JWT or has no numeric `exp`. */
export function readJwtExpiryMs(token: unknown): number | null {
  const exp = decodeJwtPayload(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? Math.floor(exp * 1000) : null;
}
