import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
    if (!req.raw.complete) closeAfterAnswer(req, reply);
    return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  });
}

/** How long a socket whose body was abandoned may stay half-closed after its answer, so the client can read it. */
export const ABANDONED_SOCKET_LINGER_MS = 1_000;

/**
 * An answer that leaves part of the request body unread (a 413 mid-upload, a 400 on a bad part)
 * closes the connection: kept alive, the socket would sit waiting for bytes nobody reads, and
 * hold up a graceful shutdown. Node ends the socket after a `connection: close` answer; the
 * timer destroys it if the client keeps its side open.
 */
function closeAfterAnswer(req: FastifyRequest, reply: FastifyReply): void {
  reply.header('connection', 'close');
  const socket = req.raw.socket;
  reply.raw.once('finish', () => setTimeout(() => socket.destroy(), ABANDONED_SOCKET_LINGER_MS).unref());
}
