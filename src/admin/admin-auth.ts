import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseBearerToken } from '../control/api-key.js';
import { GatewayError } from '../errors/codes.js';

const digestOf = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * True when `candidate` equals `expected`. Both sides are hashed first so timingSafeEqual always
 * compares 32 bytes: neither the content nor the length of the admin token leaks through timing.
 */
export function isAdminTokenMatch(candidate: string, expected: string): boolean {
  return timingSafeEqual(digestOf(candidate), digestOf(expected));
}

/**
 * Adds an onRequest hook (before any body is read) that admits only `Authorization: Bearer <adminToken>`.
 * There is no trust based on the client's address: loopback callers need the token too.
 * @throws GatewayError('admin_unauthorized') from the hook, answered as an OpenAI-shaped 401.
 */
export function registerAdminAuth(app: FastifyInstance, adminToken: string): void {
  if (adminToken.length === 0) throw new Error('admin token must not be empty');
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const token = parseBearerToken(req.headers.authorization);
    if (token === null) throw new GatewayError('admin_unauthorized', 'admin API requires Authorization: Bearer <admin token>');
    if (!isAdminTokenMatch(token, adminToken)) throw new GatewayError('admin_unauthorized', 'invalid admin token');
  });
}
