import type { FastifyRequest } from 'fastify';
import { hashApiKey, parseBearerToken } from '../control/api-key.js';
import { GatewayError } from '../errors/codes.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import type { SnapshotSource } from './gateway-deps.js';

/**
 * Authenticates a public-API request by its gateway key, in the original's order: bearer →
 * snapshot loaded → key by SHA-256 → key status. The one key lookup of the data plane (the image
 * gate and the model routes both call it); the image switch and the quota are the caller's.
 * @throws GatewayError `missing_bearer`, `not_ready`, `invalid_api_key` or `key_disabled`.
 */
export function resolveGatewayKey(req: FastifyRequest, snapshots: SnapshotSource): { key: KeyRecord; snapshot: Snapshot } {
  const token = parseBearerToken(req.headers.authorization);
  if (!token) throw new GatewayError('missing_bearer', 'missing bearer token');
  const snapshot = snapshots.current();
  if (!snapshot) throw new GatewayError('not_ready', 'gateway is starting; control data is not loaded yet');
  const key = snapshot.keysByHash.get(hashApiKey(token));
  if (!key) throw new GatewayError('invalid_api_key', 'invalid bearer token');
  if (key.status !== 'active') throw new GatewayError('key_disabled', 'this API key is disabled');
  return { key, snapshot };
}
