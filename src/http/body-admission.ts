import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { GatewayError } from '../errors/codes.js';
import type { BodyBudget } from '../limits/body-budget.js';

type BodyLimits = Pick<Config, 'maxJsonBodyBytes' | 'maxUploadTotalBytes'>;

/**
 * What a request's body is charged against the body budget, before a byte of it is read: its
 * Content-Length (capped at the endpoint's own limit, past which it is refused with a 413 anyway),
 * or, for a chunked body whose size is unknown, the largest body its media type allows.
 */
export function bodyCharge(req: FastifyRequest, mediaType: string, config: BodyLimits): number {
  const ceiling = mediaType === 'multipart/form-data' ? config.maxUploadTotalBytes : config.maxJsonBodyBytes;
  const declared = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, ceiling) : ceiling;
}

/**
 * Admits a request's body under the process-wide budget or refuses it with a 503
 * `body_budget_exhausted` (retry-after) before the body is read. The charge is released once the
 * body is parsed or has failed (`req.endBodyDeadline`, which the handler calls), or when the
 * answer ends, whichever comes first.
 */
export function admitBody(req: FastifyRequest, reply: FastifyReply, mediaType: string, budget: BodyBudget, config: BodyLimits): void {
  const release = budget.tryCharge(bodyCharge(req, mediaType, config));
  if (release === null) {
    throw new GatewayError('body_budget_exhausted', 'the gateway is reading too many request bodies at once (MAX_BODY_BYTES_IN_FLIGHT); retry the request');
  }
  reply.raw.once('close', release);
  const endDeadline = req.endBodyDeadline;
  req.endBodyDeadline = () => {
    release();
    endDeadline?.();
  };
}
