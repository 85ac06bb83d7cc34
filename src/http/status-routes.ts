import type { FastifyInstance } from 'fastify';
import { registerAdminAuth } from '../admin/admin-auth.js';
import type { AccountCooldown, AccountHealth, CooldownCause } from '../dispatch/account-health.js';
import { GatewayError } from '../errors/codes.js';
import type { AccountLimiter } from '../limits/account-limiter.js';
import type { ActivityBuffer } from '../observe/activity-buffer.js';
import type { ImageLogEvent } from '../observe/image-log-event.js';
import type { SnapshotSource } from './gateway-deps.js';

/** One account as this data plane sees it right now. */
export interface AccountRuntimeStatus {
  accountId: string;
  /** Image requests on the account in this process. */
  inFlight: number;
  cooldown: AccountCooldown | null;
}

/** What a data plane reports about its accounts (the admin API merges one per gateway). */
export interface DataPlaneStatus {
  generatedAt: number;
  accounts: AccountRuntimeStatus[];
}

/** Reads and changes this process's account state (in `start`, the admin API calls it directly). */
export interface DataPlaneStatusSource {
  read(): DataPlaneStatus;
  /** Ends the account's cooldown; false when it had none. */
  clearCooldown(accountId: string): boolean;
  /** Recent request-log lines of this process, newest first; absent = none kept. */
  activity?(): ImageLogEvent[];
}

/** What the status source reads. */
export interface StatusSourceDeps {
  health: AccountHealth;
  accountLimiter: AccountLimiter;
  snapshots: SnapshotSource;
  now: () => number;
  /** Recent request-log lines (the console's Activity page); absent = none. */
  activity?: ActivityBuffer;
}

/** Builds the status of every account in the current snapshot (no token, no proxy: ids and numbers). */
export function createDataPlaneStatusSource({ health, accountLimiter, snapshots, now, activity }: StatusSourceDeps): DataPlaneStatusSource {
  return {
    read() {
      const accounts = [...(snapshots.current()?.accounts.values() ?? [])].map((account) => ({
        accountId: account.id,
        inFlight: accountLimiter.inFlight(account.id),
        cooldown: account.credentials ? health.peekCooldown(account.id, account.credentials.accessToken) : null,
      }));
      return { generatedAt: now(), accounts };
    },
    clearCooldown: (accountId) => health.clear(accountId),
    ...(activity ? { activity: () => activity.list() } : {}),
  };
}

/** The status JSON on the wire (snake_case, like the admin API). */
export interface DataPlaneStatusWire {
  generated_at: number;
  accounts: Array<{
    account_id: string;
    in_flight: number;
    cooldown: { cause: CooldownCause; until_ms: number; failures: number; capped: boolean } | null;
  }>;
}

/** Status → wire JSON. */
export function buildStatusWire(status: DataPlaneStatus): DataPlaneStatusWire {
  return {
    generated_at: status.generatedAt,
    accounts: status.accounts.map((a) => ({
      account_id: a.accountId,
      in_flight: a.inFlight,
      cooldown: a.cooldown && { cause: a.cooldown.cause, until_ms: a.cooldown.untilMs, failures: a.cooldown.failures, capped: a.cooldown.capped },
    })),
  };
}

/** Wire JSON → status (the control plane reading a gateway it was configured with). */
export function parseStatusWire(wire: DataPlaneStatusWire): DataPlaneStatus {
  return {
    generatedAt: wire.generated_at,
    accounts: wire.accounts.map((a) => ({
      accountId: a.account_id,
      inFlight: a.in_flight,
      cooldown: a.cooldown && { accountId: a.account_id, cause: a.cooldown.cause, untilMs: a.cooldown.until_ms, failures: a.cooldown.failures, capped: a.cooldown.capped },
    })),
  };
}

/**
 * `GET /status`, `GET /status/activity` (recent request-log lines, when kept) and `POST /status/accounts/:id/clear-cooldown` on the data plane, for control planes
 * in other processes (GATEWAY_STATUS_URLS). Both need `Authorization: Bearer <admin token>`.
 */
export function registerStatusRoutes(app: FastifyInstance, source: DataPlaneStatusSource, adminToken: string): void {
  app.register(async (scope) => {
    registerAdminAuth(scope, adminToken);
    scope.get('/status', async (_req, reply) => reply.header('cache-control', 'no-store').send(buildStatusWire(source.read())));
    scope.post<{ Params: { id: string } }>('/status/accounts/:id/clear-cooldown', async (req) => {
      if (!/^acct_[0-9a-f]{8,64}$/.test(req.params.id)) throw new GatewayError('not_found', 'account not found', 'account');
      return { account_id: req.params.id, cleared: source.clearCooldown(req.params.id) };
    });
    scope.get('/status/activity', async (_req, reply) => reply.header('cache-control', 'no-store').send({ data: source.activity?.() ?? [] }));
  });
}
