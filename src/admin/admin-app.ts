import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ControlApi } from '../control/control-api.js';
import { answerFailedExpectation, handleClientError } from '../errors/client-error.js';
import { withRedactedUrls } from '../observe/app-logger.js';
import { combineStatusReaders, type GatewayStatusReader } from '../control/gateway-status.js';
import { registerConsoleAuth } from './admin-console-auth.js';
import { createAdminSessionStore, type AdminSessionStore } from './admin-session.js';
import { registerConsoleHeaders } from './console-headers.js';
import { registerAdminErrorHandler } from './admin-error-handler.js';
import { registerActivityRoutes } from './routes/activity-routes.js';
import { registerAccountHealthRoutes } from './routes/account-health-routes.js';
import { registerAccountRoutes } from './routes/accounts-routes.js';
import { registerGroupRoutes } from './routes/groups-routes.js';
import { registerInstanceRoutes } from './routes/instances-routes.js';
import { registerJobRoutes } from './routes/jobs-routes.js';
import { registerKeyRoutes } from './routes/keys-routes.js';
import { registerModelAliasRoutes } from './routes/model-aliases-routes.js';
import { registerSettingsRoutes } from './routes/settings-routes.js';
import { registerUsageRoutes } from './routes/usage-routes.js';
import { registerSessionRoutes } from './session-routes.js';

/** Every admin API route lives under this prefix. */
export const ADMIN_API_PREFIX = '/admin/api';

/** Default body limit of admin requests; the account import route allows 1 MiB. */
export const ADMIN_BODY_LIMIT_BYTES = 64 * 1024;

/** What `buildAdminApp` needs. */
export interface AdminAppOptions {
  /** The service layer (or anything implementing ControlApi). */
  control: ControlApi;
  /** Bearer token every `/admin/api/*` request must carry. */
  adminToken: string;
  /** A pino-compatible logger; false or absent = no logging. */
  logger?: FastifyBaseLogger | false;
  /** Runtime account state of the gateways (cooldowns, in flight); absent = none known. */
  gatewayStatus?: GatewayStatusReader;
  /** Console sessions (sign-in cookie); absent = a fresh in-memory store. */
  sessions?: AdminSessionStore;
  /** Adds more to the app (the web console, for example) outside the authenticated API scope. */
  extend?: (app: FastifyInstance) => void;
}

/**
 * Builds the admin (control-plane) Fastify app without listening, so tests use `app.inject`.
 * REST under `/admin/api/` behind the bearer admin token or a console session (`/admin/session`); every response has `x-request-id` and
 * `cache-control: no-store`; errors are OpenAI-shaped via `toOpenAIError`.
 */
export function buildAdminApp(opts: AdminAppOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    ...(opts.logger ? { loggerInstance: withRedactedUrls(opts.logger) } : { logger: false }),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    bodyLimit: ADMIN_BODY_LIMIT_BYTES,
    // Requests the HTTP parser refuses get the OpenAI shape too (and the connection closed).
    clientErrorHandler: handleClientError,
  });
  app.server.on('checkExpectation', answerFailedExpectation);
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.header('cache-control', 'no-store');
  });
  registerConsoleHeaders(app);
  registerAdminErrorHandler(app);
  const sessions = opts.sessions ?? createAdminSessionStore();
  registerSessionRoutes(app, opts.adminToken, sessions);
  app.register(
    async (api) => {
      registerAdminErrorHandler(api);
      registerConsoleAuth(api, opts.adminToken, sessions);
      api.get('/health', async () => ({ ok: true }));
      registerKeyRoutes(api, opts.control);
      const gatewayStatus = opts.gatewayStatus ?? combineStatusReaders([]);
      registerAccountHealthRoutes(api, opts.control, gatewayStatus);
      registerActivityRoutes(api, gatewayStatus);
      registerAccountRoutes(api, opts.control);
      registerGroupRoutes(api, opts.control);
      registerSettingsRoutes(api, opts.control);
      registerUsageRoutes(api, opts.control);
      registerModelAliasRoutes(api, opts.control);
      registerJobRoutes(api, opts.control);
      registerInstanceRoutes(api, opts.control);
    },
    { prefix: ADMIN_API_PREFIX },
  );
  opts.extend?.(app);
  return app;
}
