import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { ENDPOINT_ALIASES, resolveEndpoint } from '../images/endpoint-aliases.js';
import { APP_LOG_SERIALIZERS, withRedactedUrls } from '../observe/app-logger.js';
import type { ImageEndpoint } from '../images/image-request.js';
import { answerFailedExpectation, handleClientError } from '../errors/client-error.js';
import { installConnectionCap } from './connection-cap.js';
import { createCorsHook } from './cors.js';
import type { GatewayDeps } from './gateway-deps.js';
import { installErrorHandler } from './error-handler.js';
import { createImageGate } from './image-gate.js';
import { createImageHandler } from './image-handler.js';
import { registerJobRoutes } from './job-routes.js';
import { registerModelRoutes } from './models-routes.js';
import { registerResultRoutes } from './result-routes.js';
import { registerStatusRoutes } from './status-routes.js';
import { trackRoutePaths } from './path-suggestion.js';
import { parseTrustedProxies } from './trust-proxy.js';
import { readRequestText } from './request-body.js';

/** Every method is routed on the image paths so that non-POST gets 405 (with Allow) rather than 404. */
const ALL_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const;

/** Multipart text fields: a 32,000-character prompt can take up to 128 KB in UTF-8. */
const MAX_MULTIPART_FIELD_BYTES = 256 * 1024;

/**
 * Request ids look like OpenAI's (`req_` + 32 hex) and are generated here, never taken from the client.
 * randomUUID draws from a cached entropy pool, far cheaper per request than randomBytes.
 */
export const generateRequestId = (): string => `req_${randomUUID().replaceAll('-', '')}`;

export interface GatewayAppOptions {
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger | false;
}

/** Fastify's logger options; whichever logger is given, logged URLs lose their query strings. */
function loggerOptions(logger: GatewayAppOptions['logger']): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (!logger) return { logger: false };
  if (typeof (logger as FastifyBaseLogger).child === 'function') return { loggerInstance: withRedactedUrls(logger as FastifyBaseLogger) };
  const given = logger === true ? {} : (logger as Exclude<FastifyServerOptions['logger'], boolean | undefined>);
  return { logger: { ...given, serializers: { ...given.serializers, ...APP_LOG_SERIALIZERS } } };
}

/** Builds the data-plane Fastify app (public image API, model list, hosted results, health, readiness, metrics) without listening. */
export async function buildGatewayApp(deps: GatewayDeps, opts: GatewayAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...loggerOptions(opts.logger),
    genReqId: generateRequestId,
    bodyLimit: deps.config.maxJsonBodyBytes,
    // `req.ip` is the socket peer unless that peer is a configured reverse proxy (then its X-Forwarded-For).
    trustProxy: parseTrustedProxies(deps.config.trustedProxies),
    // Generations take minutes: Node's default 5-minute request timeout would cut them off.
    requestTimeout: 0,
    // Our own onRequest check answers requests that arrive while draining, in the OpenAI shape.
    return503OnClosing: false,
    // Per-request lines would repeat what the redacted request log records better; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests the HTTP parser refuses still get the OpenAI shape (and the connection closed).
    clientErrorHandler: handleClientError,
  });
  app.server.on('checkExpectation', answerFailedExpectation);
  // Before every other hook: a request on a connection refused by MAX_CONNECTIONS never reaches a route.
  app.addHook('onRequest', installConnectionCap(app.server, deps.config.maxConnections));
  app.removeAllContentTypeParsers();
  // The images room parses JSON itself: an image request's body is handed over unread, to be parsed
  // as it arrives (its images spooled, never held); other routes get the text. Both keep raw number
  // literals, which the images room needs to reject `n: 2.0`.
  app.addContentTypeParser('application/json', (req, payload, done) => {
    if (resolveEndpoint(req.routeOptions.url ?? '') !== undefined) return done(null, payload);
    readRequestText(req, payload, deps.config.maxJsonBodyBytes).then(
      (text) => done(null, text),
      (err: Error) => done(err),
    );
  });
  await app.register(multipart, {
    limits: {
      fileSize: deps.config.maxUploadFileBytes,
      // The images, a mask and a markup overlay (dropped, but read).
      files: deps.config.maxInputImages + 2,
      fields: 32,
      parts: deps.config.maxInputImages + 34,
      fieldSize: MAX_MULTIPART_FIELD_BYTES,
    },
  });
  // First, so that preflights never reach a route's gate and every later error carries the CORS headers.
  app.addHook('onRequest', createCorsHook(deps.snapshots));
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (closing) {
      reply.header('connection', 'close');
      throw new GatewayError('shutting_down', 'the gateway is shutting down; retry the request');
    }
  });
  installErrorHandler(app, deps);
  const suggestPath = trackRoutePaths(app);
  for (const [path, endpoint] of Object.entries(ENDPOINT_ALIASES) as [string, ImageEndpoint][]) {
    app.route({
      method: [...ALL_METHODS],
      url: path,
      onRequest: createImageGate(endpoint, deps, deps.bodyBudget),
      handler: createImageHandler(endpoint, deps),
    });
  }
  registerModelRoutes(app, deps, ALL_METHODS);
  if (deps.jobs) registerJobRoutes(app, deps, deps.jobs, ALL_METHODS);
  registerResultRoutes(app, deps, ALL_METHODS);
  app.get('/healthz', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok'));
  app.get('/readyz', async (_req, reply) => {
    const ready = deps.snapshots.isReady();
    return reply
      .code(ready ? 200 : 503)
      .type('text/plain; charset=utf-8')
      .send(ready ? 'ready' : 'not ready');
  });
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await deps.metrics.render();
    return reply.type(contentType).send(body);
  });
  if (deps.status) registerStatusRoutes(app, deps.status.source, deps.status.adminToken);
  app.setNotFoundHandler(async (req) => {
    const suggestion = suggestPath(req.url);
    throw new GatewayError('unsupported_path', suggestion ? `unsupported image gateway path; did you mean ${suggestion}?` : 'unsupported image gateway path');
  });
  return app;
}
