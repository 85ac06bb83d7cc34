import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { randomBytes } from 'node:crypto';
import { buildGatewayApp } from '../http/gateway-app.js';
import type { GatewayDeps, JobRuntime } from '../http/gateway-deps.js';
import { startJobMaintenance } from '../http/job-maintenance.js';
import { JobScheduler } from '../http/job-scheduler.js';
import { recordOutcome } from '../http/record-outcome.js';
import { createDataPlaneStatusSource, type DataPlaneStatusSource } from '../http/status-routes.js';
import { AccountLimiter } from '../limits/account-limiter.js';
import { KeyLimiter } from '../limits/key-limiter.js';
import { createActivityBuffer, teeRequestLog, type ActivityBuffer } from '../observe/activity-buffer.js';
import { createGatewayMetrics } from '../observe/gateway-metrics.js';
import { createRequestLogWriter } from '../observe/request-log-writer.js';
import { createUsageRecorder } from '../observe/usage-recorder.js';
import { AccountHealth } from '../dispatch/account-health.js';
import { notifyAccountAuthFailed, watchControlChanges } from '../store/change-feed.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db } from '../store/db.js';
import { startHostedResultSweeper } from '../store/hosted-result-sweeper.js';
import { HostedResults } from '../store/hosted-results.js';
import { loadSnapshot } from '../store/snapshot-loader.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { applyUsageDeltas } from '../store/usage-repo.js';
import { createDispatcherPool } from '../upstream/dispatcher-pool.js';
import { createUndiciUpstreamClient } from '../upstream/undici-upstream-client.js';
import { createAccountInflightReporter } from './account-inflight-gauge.js';

export interface DataPlane {
  app: FastifyInstance;
  snapshots: SnapshotStore;
  /** Account cooldowns of this process (read and cleared by the admin API in `start`). */
  health: AccountHealth;
  accountLimiter: AccountLimiter;
  /** This process's account status (cooldowns, in flight), for the admin API in `start`. */
  status: DataPlaneStatusSource;
  /** The last request-log lines of this process (the console's Activity and Overview). */
  activity: ActivityBuffer;
  /** Stops taking requests, lets in-flight ones finish (up to the grace period), then flushes usage and logs. */
  close(): Promise<void>;
}

export interface DataPlaneOptions {
  config: Config;
  db: Db;
  cipher: CredentialCipher;
  logger: FastifyBaseLogger;
  /** Admin token guarding `GET /status`; null/absent = no status endpoint (a `serve` without ADMIN_TOKEN). */
  statusToken?: string | null;
}

/** Request-log directory: the configured one, else `<data-dir>/logs`. */
export const resolveLogDir = (config: Config): string => config.logDir ?? join(config.dataDir, 'logs');

/** Assembles the data plane: snapshot, limiters, upstream client, observers, hosted results (and their sweeper) and the Fastify app. */
export async function createDataPlane({ config, db, cipher, logger, statusToken }: DataPlaneOptions): Promise<DataPlane> {
  const snapshots = new SnapshotStore({
    load: () => loadSnapshot(db, cipher),
    watch: (onChange) => watchControlChanges(db, () => onChange()),
    pollMs: config.snapshotPollMs,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'control data reload failed; serving the last snapshot'),
  });
  await snapshots.start();
  const settings = snapshots.current()!.settings;
  const requestLog = createRequestLogWriter({
    dir: resolveLogDir(config),
    maxFileBytes: settings.logMaxFileBytes,
    maxFileAgeMs: settings.logMaxFileAgeMs,
    maxFiles: settings.logMaxFiles,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'request log write failed'),
  });
  const usage = createUsageRecorder({
    apply: (deltas) => applyUsageDeltas(db, deltas),
    flushIntervalMs: config.usageFlushMs,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'usage flush failed; will retry'),
  });
  const metrics = createGatewayMetrics();
  const pool = createDispatcherPool({
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    headersTimeoutMs: config.upstreamHeadersTimeoutMs,
    bodyTimeoutMs: config.upstreamBodyTimeoutMs,
  });
  const upstream = createUndiciUpstreamClient({
    baseUrl: config.upstreamBaseUrl,
    pool,
    attemptTimeoutMs: config.upstreamAttemptTimeoutMs,
    maxResponseBytes: config.upstreamMaxResponseBytes,
  });
  const health = new AccountHealth({
    rateLimitCapMs: config.rateLimitCooldownCapMs,
    backoffBaseMs: config.failureBackoffBaseMs,
    backoffMaxMs: config.failureBackoffMaxMs,
  });
  const accountLimiter = new AccountLimiter(Date.now, createAccountInflightReporter(metrics, snapshots));
  // Served whatever RESULT_URL_MODE says, so URLs already handed out keep working after a switch to `data`.
  const hostedResults = new HostedResults({ db, ttlMs: config.resultUrlTtlMs, now: Date.now });
  const sweeper = startHostedResultSweeper({
    sweep: () => hostedResults.sweep(),
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'deleting expired hosted results failed; will retry'),
  });
  const activity = createActivityBuffer();
  const status = createDataPlaneStatusSource({ health, accountLimiter, snapshots, now: Date.now, activity });
  const deps: GatewayDeps = {
    config,
    snapshots,
    keyLimiter: new KeyLimiter(),
    accountLimiter,
    upstream,
    metrics,
    usage,
    requestLog: teeRequestLog(requestLog, activity),
    now: Date.now,
    health,
    hostedResults,
    onAuthFailure: (accountId) => {
      notifyAccountAuthFailed(db, accountId).catch((err) => logger.warn({ err: errorSummary(err), accountId }, 'could not tell the control plane about a 401'));
    },
    ...(statusToken ? { status: { source: status, adminToken: statusToken } } : {}),
  };
  const jobs = createJobRuntime(db, deps, logger);
  deps.jobs = jobs;
  const app = await buildGatewayApp(deps, { logger });
  const maintenance = await startJobMaintenance({
    jobs,
    heartbeatMs: config.jobHeartbeatMs,
    instanceTimeoutMs: config.jobInstanceTimeoutMs,
    resultTtlMs: config.jobResultTtlMs,
    now: Date.now,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'job maintenance failed; will retry'),
  });
  const close = async () => {
    await Promise.all([closeWithGrace(app, config.shutdownGraceMs), jobs.scheduler.drain(config.shutdownGraceMs)]);
    await maintenance.stop();
    await sweeper.stop();
    await snapshots.close();
    const flushed = await usage.close();
    await requestLog.close();
    await upstream.close();
    const log = requestLog.stats();
    logger.info(
      { usageRequests: flushed.flushedRequests, usageKeys: flushed.flushedKeys, usageUnappliedKeys: flushed.unappliedKeys, requestLogLines: log.writtenLines, requestLogDropped: log.droppedLines },
      `shutdown flushed usage of ${flushed.flushedRequests} request(s) on ${flushed.flushedKeys} key(s)` +
        (flushed.unappliedKeys > 0 ? ` (${flushed.unappliedKeys} key(s) NOT written)` : '') +
        ` and ${log.writtenLines} request-log line(s) in all` +
        (log.droppedLines > 0 ? ` (${log.droppedLines} dropped)` : ''),
    );
  };
  return { app, snapshots, health, accountLimiter, status, activity, close };
}

/** Async jobs of this process: a scheduler that runs them like plain requests, under a fresh instance id. */
function createJobRuntime(db: Db, deps: GatewayDeps, logger: FastifyBaseLogger): JobRuntime {
  const scheduler = new JobScheduler({
    db,
    deps,
    maxQueueMs: deps.config.jobMaxQueueMs,
    resultTtlMs: deps.config.jobResultTtlMs,
    pumpIntervalMs: JOB_PUMP_INTERVAL_MS,
    record: (outcome) => recordOutcome(outcome, deps),
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'async job bookkeeping failed'),
  });
  return { scheduler, db, instanceId: `inst_${randomBytes(8).toString('hex')}` };
}

/** How often queued jobs look for capacity that plain requests freed (jobs ending wake them at once). */
const JOB_PUMP_INTERVAL_MS = 250;

/** Closes the server, waiting for in-flight requests up to `graceMs`, then cuts what is left. */
export async function closeWithGrace(app: FastifyInstance, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      app.server.closeAllConnections();
      resolve();
    }, graceMs);
    timer.unref();
  });
  await Promise.race([app.close(), deadline]);
  clearTimeout(timer);
}

/** An error's code and message for the app log (never a stack full of request data). */
export function errorSummary(err: unknown): { code?: string; message: string } {
  if (err instanceof Error) return { code: (err as { code?: string }).code, message: err.message };
  return { message: String(err) };
}
