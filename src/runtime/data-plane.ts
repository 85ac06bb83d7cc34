import { BudgetLedger } from '../limits/key-budget.js';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { buildGatewayApp } from '../http/gateway-app.js';
import type { GatewayDeps, JobRuntime } from '../http/gateway-deps.js';
import { startJobMaintenance } from '../http/job-maintenance.js';
import { JobScheduler } from '../http/job-scheduler.js';
import { recordOutcome } from '../http/record-outcome.js';
import { createDataPlaneStatusSource } from '../http/status-routes.js';
import type { DataPlaneStatusSource } from '../control/data-plane-status.js';
import { sweepStaleSpoolFiles } from '../images/image-spool.js';
import { AccountLimiter } from '../limits/account-limiter.js';
import { AdmissionQueue } from '../limits/admission-queue.js';
import { BodyBudget } from '../limits/body-budget.js';
import { KeyLimiter } from '../limits/key-limiter.js';
import { createActivityBuffer, teeRequestLog } from '../observe/activity-buffer.js';
import { errorSummary } from '../observe/app-logger.js';
import { createGatewayMetrics, type GatewayMetrics } from '../observe/gateway-metrics.js';
import { createPromptHasher } from '../observe/prompt-hash.js';
import { createRequestLogWriter } from '../observe/request-log-writer.js';
import { createUsageRecorder, type UsageCloseReport } from '../observe/usage-recorder.js';
import { AccountHealth } from '../dispatch/account-health.js';
import { isImageRoutable } from '../dispatch/plan-candidates.js';
import { notifyAccountAuthFailed, watchControlChanges } from '../store/change-feed.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db } from '../store/db.js';
import { startHostedResultSweeper } from '../store/hosted-result-sweeper.js';
import { sweepUsageRollups, USAGE_ROLLUP_SWEEP_MS } from '../store/usage-rollup-repo.js';
import { HostedResults } from '../store/hosted-results.js';
import { loadSnapshot } from '../store/snapshot-loader.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import type { Snapshot } from '../store/types.js';
import { createDispatcherPool } from '../upstream/dispatcher-pool.js';
import { createUndiciUpstreamClient } from '../upstream/undici-upstream-client.js';
import { createAccountInflightReporter } from './account-inflight-gauge.js';
import { startCoordination } from './coordination-runtime.js';
import { closeWithGrace } from './graceful-close.js';
import { runShutdownSteps } from './shutdown-steps.js';
import { openLocalUsageJournal } from './usage-journal-runtime.js';

export interface DataPlane {
  app: FastifyInstance;
  /** This process's account status (cooldowns, in flight, recent request-log lines), for the admin API in `start`. */
  status: DataPlaneStatusSource;
  /** Stops taking requests and jobs, lets in-flight ones finish (up to the grace period), then flushes usage and logs. */
  close(): Promise<void>;
}

export interface DataPlaneOptions {
  config: Config;
  db: Db;
  cipher: CredentialCipher;
  logger: FastifyBaseLogger;
  /** Admin token guarding `GET /status`; null/absent = no status endpoint (a `serve` without ADMIN_TOKEN). */
  statusToken?: string | null;
  /** This process's instance-registry id (runtime/instance-heartbeat.ts), under which its async jobs are filed. */
  instanceId: string;
}

/** Request-log directory: the configured one, else `<data-dir>/logs`. */
export const resolveLogDir = (config: Config): string => config.logDir ?? join(config.dataDir, 'logs');

/**
 * Assembles the data plane: the snapshot store, limiters and account health, the upstream client,
 * the request log (teed into the activity buffer) and usage recorder, hosted results (and their
 * sweeper), async jobs (scheduler and maintenance), the status source and the Fastify app.
 */
export async function createDataPlane({ config, db, cipher, logger, statusToken, instanceId }: DataPlaneOptions): Promise<DataPlane> {
  const metrics = createGatewayMetrics();
  // Before the first snapshot: usage a killed process left in its journal counts toward quotas at once.
  const usageJournal = await openLocalUsageJournal({ dataDir: config.dataDir, db, syncIntervalMs: config.usageJournalSyncMs, logger });
  const pool = createDispatcherPool({
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    headersTimeoutMs: config.upstreamHeadersTimeoutMs,
    bodyTimeoutMs: config.upstreamBodyTimeoutMs,
  });
  const reportCredentialHealth = createCredentialHealthReporter(metrics, logger);
  const snapshots = new SnapshotStore({
    load: () => loadSnapshot(db, cipher),
    watch: (onChange) => watchControlChanges(db, () => onChange()),
    pollMs: config.snapshotPollMs,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'control data reload failed; serving the last snapshot'),
    onLoad: (snapshot) => {
      reportCredentialHealth(snapshot);
      pool.retainOnly(listRoutedProxyUrls(snapshot));
    },
  });
  await snapshots.start().catch(async (err: unknown) => {
    await pool.close();
    throw err;
  });
  await sweepSpool(logger);
  const settings = snapshots.current()!.settings;
  const requestLog = createRequestLogWriter({
    dir: resolveLogDir(config),
    maxFileBytes: settings.logMaxFileBytes,
    maxFileAgeMs: settings.logMaxFileAgeMs,
    maxFiles: settings.logMaxFiles,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'request log write failed'),
  });
  const usage = createUsageRecorder({
    apply: (deltas, throughSeq, rollups) => usageJournal.apply(deltas, throughSeq, rollups),
    journal: usageJournal.journal,
    flushIntervalMs: config.usageFlushMs,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'usage flush failed; will retry'),
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
  const admission = new AdmissionQueue({ maxQueuedPerKey: config.admissionQueueMaxPerKey, onQueuedChange: (n) => metrics.queuedRequests.set(n) });
  // Every release wakes the requests waiting for that account (no polling).
  const accountLimiter = new AccountLimiter(Date.now, createAccountInflightReporter(metrics, snapshots), (accountId) => admission.notify([accountId]));
  // Served whatever RESULT_URL_MODE says, so URLs already handed out keep working after a switch to `data`.
  const hostedResults = new HostedResults({ db, ttlMs: config.resultUrlTtlMs, now: Date.now });
  const sweeper = startHostedResultSweeper({
    sweep: () => hostedResults.sweep(),
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'deleting expired hosted results failed; will retry'),
  });
  // The same timer shape rolls old hourly usage into daily rows; every data plane runs it, and concurrent sweeps are safe.
  const rollupSweeper = startHostedResultSweeper({
    sweep: () =>
      sweepUsageRollups(db, { nowMs: Date.now(), hourlyRetentionDays: config.usageHourlyRetentionDays, dailyRetentionDays: config.usageDailyRetentionDays }),
    intervalMs: USAGE_ROLLUP_SWEEP_MS,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'rolling up old usage history failed; will retry'),
  });
  const activity = createActivityBuffer();
  const keyLimiter = new KeyLimiter();
  const coordination = await startCoordination({ config, instanceId, db, logger, metrics, health, keyLimiter, accountLimiter, admission });
  const status = createDataPlaneStatusSource({
    health,
    accountLimiter,
    snapshots,
    now: Date.now,
    activity,
    ...(coordination ? { shared: coordination.slots } : {}),
  });
  const deps: GatewayDeps = {
    config,
    snapshots,
    keyLimiter,
    budgets: new BudgetLedger(),
    accountLimiter,
    ...(coordination ? { coordination: coordination.slots } : {}),
    admission,
    bodyBudget: new BodyBudget(config.maxBodyBytesInFlight),
    upstream,
    metrics,
    usage,
    requestLog: teeRequestLog(requestLog, activity),
    now: Date.now,
    hashPrompt: createPromptHasher(cipher.deriveKey('prompt-hash')),
    health,
    hostedResults,
    onAuthFailure: (accountId) => {
      notifyAccountAuthFailed(db, accountId).catch((err) => logger.warn({ err: errorSummary(err), accountId }, 'could not tell the control plane about a 401'));
    },
    ...(statusToken ? { status: { source: status, adminToken: statusToken } } : {}),
  };
  const jobs = createJobRuntime({ db, deps, logger, instanceId });
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
  // Every step runs even when one before it fails: usage and the request log are always flushed.
  let flushed: UsageCloseReport | null = null;
  const close = () =>
    runShutdownSteps(logger, 'data plane', [
      () => Promise.all([closeWithGrace(app, config.shutdownGraceMs), jobs.scheduler.drain(config.shutdownGraceMs)]),
      // After the last request ended, so every lease it held was released.
      async () => coordination?.close(),
      () => maintenance.stop(),
      () => sweeper.stop(),
      () => rollupSweeper.stop(),
      () => snapshots.close(),
      async () => {
        flushed = await usage.close();
      },
      () => usageJournal.close(),
      () => requestLog.close(),
      () => upstream.close(),
      async () => logShutdown(logger, flushed, requestLog.stats()),
    ]);
  return { app, status, close };
}

/**
 * The proxies that accounts image requests may be routed to use (null = direct). Every snapshot load
 * hands them to the dispatcher pool, which closes the others: a proxy that was changed or removed,
 * or whose accounts were deleted or disabled, gives back its connections within one reload.
 */
export function listRoutedProxyUrls(snapshot: Snapshot): Array<string | null> {
  return [...snapshot.accounts.values()].filter(isImageRoutable).map((account) => account.proxyUrl);
}

/**
 * Reports unreadable credentials after each snapshot load: the gauge always, a log line when the
 * picture changes (the key stopped or started matching, or the count of unreadable accounts moved).
 * Account names only; never a credential.
 */
function createCredentialHealthReporter(metrics: GatewayMetrics, logger: FastifyBaseLogger): (snapshot: Snapshot) => void {
  let last = { masterKeyMatches: true, unreadable: 0 };
  return (snapshot) => {
    const unreadable = [...snapshot.accounts.values()].filter((a) => a.credentials === null).map((a) => a.name);
    metrics.accountsUnreadable.set(unreadable.length);
    if (snapshot.masterKeyMatches === last.masterKeyMatches && unreadable.length === last.unreadable) return;
    last = { masterKeyMatches: snapshot.masterKeyMatches, unreadable: unreadable.length };
    if (!snapshot.masterKeyMatches) {
      logger.error({ unreadableAccounts: unreadable }, "master key does not open this database's credentials; /readyz answers 503 until the key matches");
    } else if (unreadable.length > 0) {
      logger.warn({ unreadableAccounts: unreadable }, "some accounts' stored credentials cannot be opened; they are left out of routing");
    } else {
      logger.info("every account's stored credentials open again");
    }
  };
}

/** Async jobs of this process: a scheduler that runs them like plain requests, filed under the process's instance id. */
function createJobRuntime({ db, deps, logger, instanceId }: { db: Db; deps: GatewayDeps; logger: FastifyBaseLogger; instanceId: string }): JobRuntime {
  const scheduler = new JobScheduler({
    db,
    deps,
    maxQueueMs: deps.config.jobMaxQueueMs,
    resultTtlMs: deps.config.jobResultTtlMs,
    pumpIntervalMs: JOB_PUMP_INTERVAL_MS,
    record: (outcome) => recordOutcome(outcome, deps),
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'async job bookkeeping failed'),
  });
  return { scheduler, db, instanceId };
}

/** Deletes upload spool files that a killed process left behind; a failure only warns (the gateway serves without it). */
async function sweepSpool(logger: FastifyBaseLogger): Promise<void> {
  try {
    const removed = await sweepStaleSpoolFiles();
    if (removed > 0) logger.info({ removed }, 'deleted upload spool files left by a stopped process');
  } catch (err) {
    logger.warn({ err: errorSummary(err) }, 'could not sweep the upload spool directory');
  }
}

/** How often queued jobs look for capacity that plain requests freed (jobs ending wake them at once). */
const JOB_PUMP_INTERVAL_MS = 250;

/** The data plane's last log line: what the shutdown flushed, and what it could not. */
function logShutdown(logger: FastifyBaseLogger, flushed: UsageCloseReport | null, log: { writtenLines: number; droppedLines: number }): void {
  const usage = flushed ?? { flushedRequests: 0, flushedKeys: 0, unappliedKeys: 0 };
  logger.info(
    {
      usageRequests: usage.flushedRequests,
      usageKeys: usage.flushedKeys,
      usageUnappliedKeys: usage.unappliedKeys,
      requestLogLines: log.writtenLines,
      requestLogDropped: log.droppedLines,
    },
    `shutdown flushed usage of ${usage.flushedRequests} request(s) on ${usage.flushedKeys} key(s)` +
      (flushed === null ? ' (the usage flush failed)' : usage.unappliedKeys > 0 ? ` (${usage.unappliedKeys} key(s) NOT written)` : '') +
      ` and ${log.writtenLines} request-log line(s) in all` +
      (log.droppedLines > 0 ? ` (${log.droppedLines} dropped)` : ''),
  );
}
