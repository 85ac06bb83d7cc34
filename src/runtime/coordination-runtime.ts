import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import { RedisCoordinator } from '../coord/redis-coordinator.js';
import { type AccountHealth, RATE_LIMIT_PROBE_HOLD_MS } from '../dispatch/account-health.js';
import { CoordinatedSlots } from '../dispatch/coordinated-slots.js';
import type { AccountLimiter } from '../limits/account-limiter.js';
import type { AdmissionQueue } from '../limits/admission-queue.js';
import type { KeyLimiter } from '../limits/key-limiter.js';
import { errorSummary } from '../observe/app-logger.js';
import type { GatewayMetrics } from '../observe/gateway-metrics.js';
import type { DbQuerier } from '../store/db.js';
import { isInstanceLive, listInstances } from '../store/instance-repo.js';

/** How long a start waits for Redis before serving in local mode (it switches to shared as soon as Redis answers). */
const FIRST_CONNECTION_WAIT_MS = 2_000;

/** This process's Redis coordination, while it runs. */
export interface Coordination {
  slots: CoordinatedSlots;
  /** Stops counting instances, unsubscribes and closes the connections (leases still held lapse within LEASE_TTL_MS). */
  close(): Promise<void>;
}

export interface CoordinationOptions {
  config: Config;
  /** This process's registry id: it names the leases it holds. */
  instanceId: string;
  db: DbQuerier;
  logger: FastifyBaseLogger;
  metrics: GatewayMetrics;
  health: AccountHealth;
  keyLimiter: KeyLimiter;
  accountLimiter: AccountLimiter;
  /** Woken when another instance frees an account (the freed channel), as local releases wake it. */
  admission: AdmissionQueue;
}

/**
 * Connects to REDIS_URL when it is set (null otherwise: nothing changes): slots and key places go
 * through Redis, requests waiting here wake when any instance frees an account, each change of
 * mode is logged once and shown in `codex_image_coordination_mode`, and the number of live data
 * planes (the instance registry, counted at every heartbeat) splits the caps while Redis is out of
 * reach. Waits up to FIRST_CONNECTION_WAIT_MS for the first connection; a Redis that is down at
 * start only means starting in local mode.
 */
export async function startCoordination(opts: CoordinationOptions): Promise<Coordination | null> {
  const { config, logger, metrics } = opts;
  if (!config.redisUrl) return null;
  const coordinator = new RedisCoordinator({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    leaseTtlMs: config.leaseTtlMs,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    holderId: opts.instanceId,
    health: {
      rateLimitCapMs: config.rateLimitCooldownCapMs,
      backoffBaseMs: config.failureBackoffBaseMs,
      backoffMaxMs: config.failureBackoffMaxMs,
      probeHoldMs: RATE_LIMIT_PROBE_HOLD_MS,
    },
  });
  const live = await startLiveDataPlaneCount(opts.db, config.instanceHeartbeatMs, (err) =>
    logger.warn({ err: errorSummary(err) }, 'could not count the live data planes; local mode keeps the last count'),
  );
  metrics.coordinationMode.set(coordinator.mode);
  const stopModeLog = coordinator.onModeChange(({ mode, cause }) => {
    metrics.coordinationMode.set(mode);
    if (mode === 'shared') logger.info({ cause }, 'limits are shared through Redis');
    else logger.warn({ cause, live_data_planes: live.count() }, 'Redis is out of reach: limits are local, each cap split among the live data planes');
  });
  // Created before the slots exist: `slots` is read when a message arrives.
  let slots: CoordinatedSlots | null = null;
  const freed = coordinator.onFreed((accountIds) => {
    slots?.forgetCooldowns(accountIds);
    opts.admission.notify(accountIds);
  });
  if (!(await coordinator.waitUntilShared(FIRST_CONNECTION_WAIT_MS))) {
    logger.warn(
      { live_data_planes: live.count() },
      'Redis did not answer at start: serving with local limits, each cap split among the live data planes, until it does',
    );
  }
  slots = new CoordinatedSlots({
    coordinator,
    keyLimiter: opts.keyLimiter,
    accountLimiter: opts.accountLimiter,
    health: opts.health,
    liveInstances: live.count,
    now: Date.now,
    onReportError: (err) => logger.debug({ err: errorSummary(err) }, 'an account-health write did not reach Redis'),
    wake: (accountIds) => opts.admission.notify(accountIds),
  });
  const created = slots;
  return {
    slots: created,
    async close() {
      await created.settle();
      created.stop();
      live.stop();
      freed.unsubscribe();
      stopModeLog();
      await coordinator.close();
    },
  };
}

/** The number of live data planes (`start` and `serve` rows of the registry, this one included), refreshed every `periodMs`. */
async function startLiveDataPlaneCount(db: DbQuerier, periodMs: number, onError: (err: unknown) => void): Promise<{ count: () => number; stop(): void }> {
  let count = 1;
  const refresh = async () => {
    const now = Date.now();
    const rows = await listInstances(db);
    count = Math.max(1, rows.filter((row) => row.role !== 'control' && isInstanceLive(row, now)).length);
  };
  await refresh().catch(onError);
  const timer = setInterval(() => void refresh().catch(onError), periodMs);
  timer.unref();
  return { count: () => count, stop: () => clearInterval(timer) };
}
