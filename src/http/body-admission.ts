import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { GatewayError } from '../errors/codes.js';
import type { BodyBudget } from '../limits/body-budget.js';

type BodyLimits = Pick<Config, 'maxJsonBodyBytes' | 'maxUploadTotalBytes'>;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Charges `bytes` more of a body whose size was not declared (chunked) to the body budget, as
     * they arrive; throws body_budget_exhausted when the budget cannot take them. Absent when the
     * body was charged its Content-Length up front.
     */
    chargeBodyBytes?: (bytes: number) => void;
  }
}

const buildBudgetError = () =>
  new GatewayError('body_budget_exhausted', 'the gateway is reading too many request bodies at once (MAX_BODY_BYTES_IN_FLIGHT); retry the request');

/**
 * What a request's body is charged against the body budget before a byte of it is read: its
 * Content-Length, capped at the endpoint's own limit (past which it is refused with a 413 anyway);
 * null for a chunked body, whose size is unknown and which is charged as it arrives instead.
 */
export function declaredBodyCharge(req: FastifyRequest, mediaType: string, config: BodyLimits): number | null {
  const ceiling = mediaType === 'multipart/form-data' ? config.maxUploadTotalBytes : config.maxJsonBodyBytes;
  const declared = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, ceiling) : null;
}

/**
 * Admits a request's body under the process-wide budget or refuses it with a 503
 * `body_budget_exhausted` (retry-after) before the body is read. A declared body is charged its
 * length now; a chunked one is charged nothing now and grows its charge through
 * `req.chargeBodyBytes` while it is read, refused with the same 503 (its charge given back at once,
 * the connection then closed, the rest of the body abandoned) once the budget cannot take more. The charge is released once the
 * body is parsed or has failed (`req.endBodyDeadline`, which the handler calls), or when the answer
 * ends, whichever comes first.
 */
export function admitBody(req: FastifyRequest, reply: FastifyReply, mediaType: string, budget: BodyBudget, config: BodyLimits): void {
  const declared = declaredBodyCharge(req, mediaType, config);
  const charge = budget.tryCharge(declared ?? 0);
  if (charge === null) throw buildBudgetError();
  if (declared === null) {
    req.chargeBodyBytes = (bytes) => {
      if (charge.grow(bytes)) return;
      // Given back at once, not once the parse has unwound: chunked bodies grow together, and a
      // refusal that held its bytes a moment longer would push the next body over the edge too.
      charge.release();
      throw buildBudgetError();
    };
  }
  reply.raw.once('close', charge.release);
  const endDeadline = req.endBodyDeadline;
  req.endBodyDeadline = () => {
    charge.release();
    endDeadline?.();
  };
}
