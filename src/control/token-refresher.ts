import { computeBackoffMs } from '../dispatch/account-health.js';
import { listAccounts } from '../store/account-repo.js';
import { watchAccountAuthFailures } from '../store/change-feed.js';
import { DB_RECONNECTED_PAYLOAD } from '../store/db.js';
import { isRefreshDue, refreshAccountToken, type AccountRefreshDeps, type RefreshOutcome } from './account-token-refresh.js';

/**
 * A 401-triggered refresh is skipped when this process refreshed the account this recently: the
 * data plane saw the old token, and the new one is already on its way through the snapshot.
 */
export const FORCED_REFRESH_MIN_INTERVAL_MS = 30_000;

/** Where the refresher reports (a pino logger fits). Never given a token. */
export interface RefreshLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** What the refresh worker needs: the refresh step's dependencies plus its schedule. */
export interface TokenRefresherOptions extends AccountRefreshDeps {
  /** How often every account is checked (TOKEN_REFRESH_SCAN_MS). */
  scanMs: number;
  log?: RefreshLog;
  /** First wait after a transient failure; doubles per consecutive failure. Default 30 s. */
  retryBaseMs?: number;
  /** Longest wait after transient failures. Default 15 min. */
  retryMaxMs?: number;
}

/** Keeps every account's access token valid (control plane; one per process, any number of processes). */
export interface TokenRefresher {
  /** Listens for data-plane 401 notifications, scans once now, then every `scanMs`. */
  start(): Promise<void>;
  /** Refreshes every due account (one at a time); resolves when the pass is done. */
  scan(): Promise<void>;
  /** Refreshes one account now (a 401 was seen), unless this process refreshed it in the last 30 s or it is backing off (null). */
  refreshNow(accountId: string): Promise<RefreshOutcome | null>;
  /** Stops the timer and the listener and waits for refreshes in flight. */
  close(): Promise<void>;
}

const noLog: RefreshLog = { info: () => undefined, warn: () => undefined };

/**
 * Creates the refresh worker. Single-flight per account inside the process (concurrent triggers share
 * one refresh) and across processes (the advisory lock in refreshAccountToken). Transient failures
 * (network, 5xx) back off per account (30 s, 60 s, … 15 min) and never mark the account; permanent
 * ones mark it as needing re-import. Logs name the account and the reason, never a token.
 */
export function createTokenRefresher(opts: TokenRefresherOptions): TokenRefresher {
  const log = opts.log ?? noLog;
  const policy = { backoffBaseMs: opts.retryBaseMs ?? 30_000, backoffMaxMs: opts.retryMaxMs ?? 15 * 60_000 };
  const running = new Map<string, Promise<RefreshOutcome>>();
  const backoff = new Map<string, { failures: number; retryAtMs: number }>();
  const refreshedAt = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let unlisten: (() => Promise<void>) | null = null;
  let scanning: Promise<void> | null = null;

  const isBackingOff = (id: string) => (backoff.get(id)?.retryAtMs ?? 0) > opts.now();

  const record = (id: string, outcome: RefreshOutcome): void => {
    if (outcome.kind === 'transient') {
      const failures = (backoff.get(id)?.failures ?? 0) + 1;
      backoff.set(id, { failures, retryAtMs: opts.now() + computeBackoffMs(failures, policy) });
      log.warn({ accountId: id, reason: outcome.reason, failures }, 'account token refresh failed; will retry');
      return;
    }
    if (outcome.kind !== 'locked') backoff.delete(id);
    if (outcome.kind === 'permanent') log.warn({ accountId: id, reason: outcome.reason }, 'account token refresh refused for good; the account needs a new import');
    if (outcome.kind === 'refreshed') {
      refreshedAt.set(id, opts.now());
      log.info({ accountId: id }, 'account token refreshed');
    }
  };

  const runOne = (id: string, force: boolean): Promise<RefreshOutcome> => {
    const current = running.get(id);
    if (current) return current;
    const task = refreshAccountToken(opts, id, force ? { force, requestedAtMs: opts.now() } : { force })
      .catch((err: unknown): RefreshOutcome => ({ kind: 'transient', reason: `database error (${describeError(err)})` }))
      .then((outcome) => {
        record(id, outcome);
        return outcome;
      })
      .finally(() => running.delete(id));
    running.set(id, task);
    return task;
  };

  const scanOnce = async (): Promise<void> => {
    const rows = await listAccounts(opts.db).catch((err: unknown) => {
      log.warn({ err: describeError(err) }, 'token refresh scan could not list accounts');
      return [];
    });
    for (const row of rows) {
      if (isRefreshDue(row, opts.now(), opts.marginMs) && !isBackingOff(row.id)) await runOne(row.id, false);
    }
  };

  const scan = (): Promise<void> => {
    scanning ??= scanOnce().finally(() => {
      scanning = null;
    });
    return scanning;
  };

  const refreshNow = async (accountId: string): Promise<RefreshOutcome | null> => {
    if (isBackingOff(accountId)) return null;
    const last = refreshedAt.get(accountId);
    if (last !== undefined && opts.now() - last < FORCED_REFRESH_MIN_INTERVAL_MS && !running.has(accountId)) return { kind: 'not_due' };
    return runOne(accountId, true);
  };

  return {
    async start() {
      unlisten = await watchAccountAuthFailures(opts.db, (payload) => {
        void (payload === DB_RECONNECTED_PAYLOAD ? scan() : refreshNow(payload));
      });
      void scan();
      timer = setInterval(() => void scan(), opts.scanMs);
      timer.unref();
    },
    scan,
    refreshNow,
    async close() {
      if (timer) clearInterval(timer);
      timer = null;
      await unlisten?.();
      unlisten = null;
      await scanning;
      await Promise.all(running.values());
    },
  };
}

/** An error's code or name, for the log (messages could carry connection strings). */
function describeError(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { code, name } = err as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}
