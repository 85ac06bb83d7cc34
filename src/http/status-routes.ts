import type { FastifyInstance } from 'fastify';
import { isAdminTokenMatch, parseBearerToken } from '../control/api-key.js';
import { buildStatusWire, type DataPlaneStatusSource } from '../control/data-plane-status.js';
import type { AccountCooldown, AccountHealth } from '../dispatch/account-health.js';
import { GatewayError } from '../errors/codes.js';
import type { AccountLimiter } from '../limits/account-limiter.js';
import type { ActivityBuffer } from '../observe/activity-buffer.js';
import type { SnapshotSource } from './gateway-deps.js';

/** What the status source reads. */
export interface StatusSourceDeps {
  health: AccountHealth;
  accountLimiter: AccountLimiter;
  snapshots: SnapshotSource;
  now: () => number;
  /** Recent request-log lines (the console's Activity page); absent = none. */
  activity?: ActivityBuffer;
  /**
   * With REDIS_URL: the cooldowns every instance sees (null while Redis is out of reach: this
   * process's own apply), and the clear that ends one for every instance (best effort; the local
   * one ends regardless).
   */
  shared?: {
    listCooldowns(): Promise<AccountCooldown[] | null>;
    clearCooldown(accountId: string): Promise<boolean>;
  };
}

/** Builds the status of every account in the current snapshot (no token, no proxy: ids and numbers). */
export function createDataPlaneStatusSource({ health, accountLimiter, snapshots, now, activity, shared }: StatusSourceDeps): DataPlaneStatusSource {
  return {
    async read() {
      const sharedCooldowns = shared ? await shared.listCooldowns() : null;
      const byAccount = sharedCooldowns ? new Map(sharedCooldowns.map((c) => [c.accountId, c])) : null;
      const ownCooldown = (accountId: string, token: string | undefined) => (token ? health.peekCooldown(accountId, token) : null);
      const accounts = [...(snapshots.current()?.accounts.values() ?? [])].map((account) => ({
        accountId: account.id,
        inFlight: accountLimiter.inFlight(account.id),
        cooldown: byAccount ? (byAccount.get(account.id) ?? null) : ownCooldown(account.id, account.credentials?.accessToken),
      }));
      return { generatedAt: now(), accounts };
    },
    clearCooldown: async (accountId) => {
      const ownCleared = health.clear(accountId);
      const sharedCleared = shared ? await shared.clearCooldown(accountId) : false;
      return ownCleared || sharedCleared;
    },
    ...(activity ? { activity: () => activity.list() } : {}),
  };
}

/**
 * Adds an onRequest hook (before any body is read) that admits only `Authorization: Bearer <adminToken>`.
 * There is no trust based on the client's address: loopback callers need the token too.
 * @throws GatewayError('admin_unauthorized') from the hook, answered as an OpenAI-shaped 401.
 */
function requireAdminToken(app: FastifyInstance, adminToken: string): void {
  if (adminToken.length === 0) throw new Error('admin token must not be empty');
  app.addHook('onRequest', async (req) => {
    const token = parseBearerToken(req.headers.authorization);
    if (token === null) throw new GatewayError('admin_unauthorized', 'admin API requires Authorization: Bearer <admin token>');
    if (!isAdminTokenMatch(token, adminToken)) throw new GatewayError('admin_unauthorized', 'invalid admin token');
  });
}

/**
 * `GET /status`, `GET /status/activity` (recent request-log lines, when kept) and `POST /status/accounts/:id/clear-cooldown` on the data plane, for control planes
 * in other processes (GATEWAY_STATUS_URLS). Both need `Authorization: Bearer <admin token>`.
 */
export function registerStatusRoutes(app: FastifyInstance, source: DataPlaneStatusSource, adminToken: string): void {
  app.register(async (scope) => {
    requireAdminToken(scope, adminToken);
    scope.get('/status', async (_req, reply) => reply.header('cache-control', 'no-store').send(buildStatusWire(await source.read())));
    scope.post<{ Params: { id: string } }>('/status/accounts/:id/clear-cooldown', async (req) => {
      if (!/^acct_[0-9a-f]{8,64}$/.test(req.params.id)) throw new GatewayError('not_found', 'account not found', 'account');
      return { account_id: req.params.id, cleared: await source.clearCooldown(req.params.id) };
    });
    scope.get('/status/activity', async (_req, reply) => reply.header('cache-control', 'no-store').send({ data: source.activity?.() ?? [] }));
  });
}
