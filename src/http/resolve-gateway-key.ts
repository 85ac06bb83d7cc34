import type { FastifyRequest } from 'fastify';
import { hashApiKey, parseBearerToken } from '../control/api-key.js';
import { GatewayError } from '../errors/codes.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import type { SnapshotSource } from './gateway-deps.js';

/**
 * Authenticates a public-API request by its gateway key, in the original's order: bearer →
 * snapshot loaded → key by SHA-256 (a rotated-out secret only within its grace period) → key
 * status → expiry. The one key lookup of the data plane (the image gate and the model routes both
 * call it); the image switch and the quota are the caller's.
 * @throws GatewayError `missing_bearer`, `not_ready`, `invalid_api_key`, `key_disabled` or `key_expired`.
 */
export function resolveGatewayKey(req: FastifyRequest, snapshots: SnapshotSource, now: number): { key: KeyRecord; snapshot: Snapshot } {
  const token = parseBearerToken(req.headers.authorization);
  if (!token) throw new GatewayError('missing_bearer', 'missing bearer token');
  const snapshot = snapshots.current();
  if (!snapshot) throw new GatewayError('not_ready', 'gateway is starting; control data is not loaded yet');
  const hash = hashApiKey(token);
  const key = snapshot.keysByHash.get(hash);
  // The snapshot may be older than a grace period's end: the clock decides, not the last load.
  if (!key || (hash !== key.hash && (key.previousSecret === null || now >= key.previousSecret.expiresAt))) {
    throw new GatewayError('invalid_api_key', 'invalid bearer token');
  }
  if (key.status !== 'active') throw new GatewayError('key_disabled', 'this API key is disabled');
  if (key.expiresAt !== null && now >= key.expiresAt) {
    throw new GatewayError('key_expired', `this API key expired at ${new Date(key.expiresAt).toISOString()}; ask the gateway's operator for a new one`);
  }
  return { key, snapshot };
}
