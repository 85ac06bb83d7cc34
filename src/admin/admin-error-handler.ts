import type { FastifyError, FastifyInstance } from 'fastify';
import { closeIfBodyAbandoned } from '../errors/client-error.js';
import { GatewayError } from '../errors/codes.js';
import { toOpenAIError } from '../errors/openai-shape.js';

/**
 * Answers every error of the admin API in the OpenAI shape through `toOpenAIError` (the only mapper;
 * the services already name `param` by its wire name),
 * and sends 404s for unknown paths the same way. Server errors go to the log with their details;
 * the client sees only the generic message. An answer given before the body was read whole (a 401,
 * a 413) closes the connection, as on the data plane.
 */
export function registerAdminErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const mapped = toOpenAIError(err);
    if (mapped.status >= 500) req.log.error({ err }, 'admin API error');
    closeIfBodyAbandoned(req, reply);
    return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  });
  app.setNotFoundHandler(async (req) => {
    throw new GatewayError('not_found', `no admin route for ${req.method} ${req.url.split('?')[0] ?? ''}`);
  });
}
