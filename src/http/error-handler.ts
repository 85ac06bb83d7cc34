import type { FastifyError, FastifyInstance } from 'fastify';
import { toOpenAIError } from '../errors/openai-shape.js';
import { resolveEndpoint } from '../images/endpoint-aliases.js';
import type { GatewayDeps } from './gateway-deps.js';

/** Client errors an SDK must not retry (retrying cannot change the answer). */
const NO_RETRY_STATUSES = new Set([400, 401, 403, 404, 405, 413, 415]);

/**
 * The data plane's only error handler: maps every thrown error to the OpenAI shape, counts requests
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
    if (NO_RETRY_STATUSES.has(mapped.status)) reply.header('x-should-retry', 'false');
    return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  });
}
