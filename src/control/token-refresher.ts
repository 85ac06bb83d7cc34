import { computeBackoffMs } from '../dispatch/account-health.js';
import { listAccounts, saveAccountError } from '../store/account-repo.js';
import { watchAccountAuthFailures } from '../store/change-feed.js';
import { DB_RECONNECTED_PAYLOAD } from '../store/db.js';
import {
  describeError,
  isRefreshDue,
  refreshAccountToken,
  type AccountRefreshDeps,
  type RefreshOutcome,
  type UnsavedAuthDocument,
} from './account-token-refresh.js';

/**
 * A 401-triggered refresh is skipped when this process refreshed the account this recently: the
 * data plane saw the old token, and the new one is already on its way through the snapshot.
 */
export const FORCED_REFRESH_MIN_INTERVAL_MS = 30_000;

/** The `last_error` an account gets when its refreshed tokens still could not be stored after the quick retries. */
export const UNSAVED_TOKENS_ERROR =
  'refreshed tokens could not be stored in the database; they are kept in memory and stored as soon as the database accepts them (restarting the process now loses them and the account needs a new import)';

/** Where the refresher reports (a pino logger fits). Never given a token. */
export interface RefreshLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
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
  /** First wait before storing refreshed tokens again after the store failed; doubles per attempt. Default 1 s. */
  storeRetryBaseMs?: number;
  /** Longest wait between those store retries. Default 30 s. */
  storeRetryMaxMs?: number;
  /** Quick store retries before the account's `last_error` is set; afterwards every scan retries. Default 8. */
  storeRetryAttempts?: number;
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

const noLog: RefreshLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Creates the refresh worker. Single-flight per account inside the process (concurrent triggers share
 * one refresh) and across processes (the advisory lock in refreshAccountToken). Transient failures
 * (network, 5xx) back off per account (30 s, 60 s, … 15 min) and never mark the account; permanent
 * ones mark it as needing re-import. Logs name the account and the reason, never a token.
 *
 * Rotated tokens that the token endpoint issued but the database did not store are kept in this
 * process's memory (never logged) and stored again after 1 s, 2 s, … (up to `storeRetryAttempts`
 * quick retries, then at every scan, with the account's `last_error` saying so) until the database
 * takes them; meanwhile every refresh of the account starts from them, never from the spent stored token.
 */
export function createTokenRefresher(opts: TokenRefresherOptions): TokenRefresher {
  const log = opts.log ?? noLog;
  const policy = { backoffBaseMs: opts.retryBaseMs ?? 30_000, backoffMaxMs: opts.retryMaxMs ?? 15 * 60_000 };
  const running = new Map<string, Promise<RefreshOutcome>>();
  const backoff = new Map<string, { failures: number; retryAtMs: number }>();
  const refreshedAt = new Map<string, number>();
  const unsaved = new Map<string, { document: UnsavedAuthDocument; attempts: number; timer: NodeJS.Timeout | null }>();
  const store = {
    baseMs: opts.storeRetryBaseMs ?? 1_000,
    maxMs: opts.storeRetryMaxMs ?? 30_000,
    attempts: opts.storeRetryAttempts ?? 8,
  };
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let unlisten: (() => Promise<void>) | null = null;
  let scanning: Promise<void> | null = null;

  const isBackingOff = (id: string) => (backoff.get(id)?.retryAtMs ?? 0) > opts.now();

  /** Keeps a document that could not be stored and plans the next try: quick retries, then every scan. */
  const keep = (id: string, document: UnsavedAuthDocument, reason: string): void => {
    const previous = unsaved.get(id);
    if (previous?.timer) clearTimeout(previous.timer);
    const attempts = (previous?.attempts ?? 0) + 1;
    const entry: { document: UnsavedAuthDocument; attempts: number; timer: NodeJS.Timeout | null } = { document, attempts, timer: null };
    unsaved.set(id, entry);
    if (attempts <= store.attempts) {
      log.warn({ accountId: id, reason, attempts }, 'refreshed account tokens could not be stored; kept in memory, retrying');
      if (closed) return;
      entry.timer = setTimeout(
        () => {
          entry.timer = null;
          void runOne(id, false);
        },
        computeBackoffMs(attempts, { backoffBaseMs: store.baseMs, backoffMaxMs: store.maxMs }),
      );
      entry.timer.unref();
      return;
    }
    if (attempts === store.attempts + 1) {
      log.error(
        { accountId: id, reason, attempts },
        'refreshed account tokens still cannot be stored; kept in memory only, retried at every scan; a restart now loses them',
      );
      void saveAccountError(opts.db, id, UNSAVED_TOKENS_ERROR, opts.now()).catch(() => undefined);
    }
  };

  const forget = (id: string): void => {
    const entry = unsaved.get(id);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    unsaved.delete(id);
  };

  const record = (id: string, outcome: RefreshOutcome): void => {
    if (outcome.kind === 'unsaved') return;
    if (outcome.kind === 'transient') {
      const failures = (backoff.get(id)?.failures ?? 0) + 1;
      backoff.set(id, { failures, retryAtMs: opts.now() + computeBackoffMs(failures, policy) });
      log.warn({ accountId: id, reason: outcome.reason, failures }, 'account token refresh failed; will retry');
      return;
    }
    if (outcome.kind !== 'locked') backoff.delete(id);
    if (outcome.kind === 'permanent')
      log.warn({ accountId: id, reason: outcome.reason }, 'account token refresh refused for good; the account needs a new import');
    if (outcome.kind === 'refreshed') {
      refreshedAt.set(id, opts.now());
      log.info({ accountId: id }, 'account token refreshed');
    }
  };

  const runOne = (id: string, force: boolean): Promise<RefreshOutcome> => {
    const current = running.get(id);
    if (current) return current;
    const kept = unsaved.get(id)?.document ?? null;
    const task = refreshAccountToken(opts, id, { force, ...(force ? { requestedAtMs: opts.now() } : {}), unsaved: kept })
      .catch((err: unknown) => ({ outcome: { kind: 'transient', reason: `database error (${describeError(err)})` } as RefreshOutcome, unsaved: kept }))
      .then(({ outcome, unsaved: document }) => {
        if (document) {
          keep(id, document, 'reason' in outcome ? outcome.reason : `not stored yet (${outcome.kind})`);
        } else {
          if (kept && outcome.kind === 'refreshed') log.info({ accountId: id }, 'kept account tokens stored');
          forget(id);
        }
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
      if (unsaved.has(row.id) || (isRefreshDue(row, opts.now(), opts.marginMs) && !isBackingOff(row.id))) await runOne(row.id, false);
    }
  };

  const scan = (): Promise<void> => {
    scanning ??= scanOnce().finally(() => {
      scanning = null;
    });
    return scanning;
  };

  const refreshNow = async (accountId: string): Promise<RefreshOutcome | null> => {
    if (isBackingOff(accountId) && !unsaved.has(accountId)) return null;
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
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      await unlisten?.();
      unlisten = null;
      await scanning;
      await Promise.all(running.values());
      // One last try for kept documents; what still fails is lost with the process, so say which accounts.
      for (const id of [...unsaved.keys()]) await runOne(id, false);
      for (const id of [...unsaved.keys()]) {
        forget(id);
        log.error({ accountId: id }, 'refreshed account tokens were never stored and are lost at exit; the account needs a new import');
      }
    },
  };
}
