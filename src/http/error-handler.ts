import type { FastifyError, FastifyInstance } from 'fastify';
import { closeIfBodyAbandoned } from '../errors/client-error.js';
import { toOpenAIError } from '../errors/openai-shape.js';
import { resolveEndpoint } from '../images/endpoint-aliases.js';
import type { GatewayDeps } from './gateway-deps.js';

/**
 * The data plane's only error handler: maps every thrown error to the OpenAI shape (retry headers
 * included, from the ERRORS table's retry policy), counts requests
 * that were refused before dispatch, and logs unexpected failures without echoing them to the client.
 */
export function installErrorHandler(app: FastifyInstance, deps: GatewayDeps): void {
  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const mapped = toOpenAIError(err);
    if (mapped.status >= 500 && mapped.body.error.code === 'internal_error') {
      req.log.error({ err: { message: err.message, code: err.code, stack: err.stack } }, 'unexpected error');
    }
    const endpoint = resolveEndpoint(req.routeOptions.url ?? '');
    if (endpoint && !req.outcomeRecorded) {
      deps.metrics.requests.inc({ endpoint, status: mapped.status, errorClass: mapped.body.error.code });
    }
    closeIfBodyAbandoned(req, reply);
    return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  });
}
