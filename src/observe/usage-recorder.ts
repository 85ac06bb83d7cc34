import { ZERO_AMOUNTS, type BudgetAmounts } from '../limits/key-budget.js';
import type { KeyUsageDelta, UsageRollupDelta, UsageRollupFacts } from '../store/types.js';
import { UsageRollupAccumulator } from '../store/usage-rollups.js';
import type { UsageJournalPort } from './usage-journal.js';

/** What one finished request adds to its key's counters. */
export interface UsageOutcome {
  /** True when the client got a 2xx with its body delivered. */
  success: boolean;
  images: number;
  inputTokens: number | null;
  outputTokens: number | null;
  /** Null when the upstream reported no usage (counted in `usageMissing` for successes). */
  totalTokens: number | null;
  /** The request's estimated cost in micro-USD, by the price table in force when it ended (src/pricing/cost-estimate.ts). */
  estimatedCostMicros: number;
  /** Where the request lands in the usage rollups (hour, account, model, endpoint) and what else it measured. */
  rollup: UsageRollupFacts;
}

/**
 * How long written usage is remembered for `pendingUsage(keyId, sinceMs)`: longer than any sane gap
 * between snapshot reloads (SNAPSHOT_POLL_MS), so budget checks never miss usage in that window.
 */
export const FLUSHED_MEMORY_MS = 10 * 60_000;

export interface UsageRecorderOptions {
  /**
   * Adds the deltas to the stored counters and the same requests' rollup rows to the hourly rollups
   * (increments, one transaction); may reject. With a journal, `throughSeq` is the last journal
   * record the batch holds (the batch is every record after the previous successful apply), to be
   * stored with the increments; 0 without a journal.
   */
  apply: (deltas: KeyUsageDelta[], throughSeq: number, rollups: UsageRollupDelta[]) => Promise<void>;
  /** Where each increment is made durable before it is counted in memory (absent: memory only). */
  journal?: UsageJournalPort;
  flushIntervalMs: number;
  now?: () => number;
  /** A failed flush (the deltas are kept and retried). */
  onError?: (err: unknown) => void;
  /** Flush attempts made by `close()` before giving up (default 5). */
  maxCloseAttempts?: number;
  /** Pause between those attempts (default 200 ms). */
  closeRetryDelayMs?: number;
}

/** What `close()` wrote (requests and keys of the final flushes) and what it could not. */
export interface UsageCloseReport {
  flushedRequests: number;
  flushedKeys: number;
  unappliedKeys: number;
}

export interface UsageRecorder {
  /** Adds one request to the key's pending deltas; synchronous, never throws. */
  record(keyId: string, outcome: UsageOutcome): void;
  /**
   * Images, tokens and estimated cost of the key that a snapshot loaded at `sinceMs` does not hold:
   * not yet applied (pending, in flight) plus those applied at or after `sinceMs`. Add to the
   * snapshot's figures for budget checks.
   */
  pendingUsage(keyId: string, sinceMs?: number): BudgetAmounts;
  /** Applies everything recorded before the call; rejects (deltas kept) when `apply` fails. */
  flush(): Promise<void>;
  /** Stops the timer and flushes until empty, retrying a bounded number of times; reports, never rejects. */
  close(): Promise<UsageCloseReport>;
}

/**
 * Accumulates usage per key in memory and writes it in batches: one `apply` per interval instead of
 * one database write per request. A failed `apply` merges its deltas back so nothing is lost while
 * the process lives; only one `apply` runs at a time. The timer is unref'd so it never keeps the
 * process alive. With a journal, each increment is appended to it first (a write, no fsync wait), and
 * a successful apply tells the journal how far the database has it, so a killed process loses no
 * usage; without one, a crash loses at most one interval of usage.
 */
export function createUsageRecorder(opts: UsageRecorderOptions): UsageRecorder {
  const now = opts.now ?? Date.now;
  const report = (err: unknown) => {
    try {
      opts.onError?.(err);
    } catch {
      // The error sink failing must not break usage accounting.
    }
  };
  let pending = new Map<string, KeyUsageDelta>();
  // Every recorded request is in both `pending` and `pendingRollups`, so one is empty when the other is.
  let pendingRollups = new UsageRollupAccumulator();
  let inFlight: ReadonlyMap<string, KeyUsageDelta> = new Map();
  let flushing: Promise<void> | null = null;
  // The last journal record merged into `pending` (0 without a journal).
  let journaledSeq = 0;
  let appliedRequests = 0;
  let appliedKeys = 0;
  // Usage already written, remembered for a while: a snapshot loaded before the write does not hold it yet.
  let flushed: Array<{ atMs: number; byKey: ReadonlyMap<string, KeyUsageDelta> }> = [];

  // Once applied, the batch must never be merged back (it would count twice): a journal failure here is only reported.
  const trimJournal = (throughSeq: number) => {
    try {
      opts.journal?.markApplied(throughSeq);
    } catch (err) {
      report(err);
    }
  };

  async function applyPending(): Promise<void> {
    const batch = pending;
    const rollups = pendingRollups.rows();
    const throughSeq = journaledSeq;
    pending = new Map();
    pendingRollups = new UsageRollupAccumulator();
    inFlight = batch;
    try {
      await opts.apply([...batch.values()], throughSeq, rollups);
      trimJournal(throughSeq);
      appliedRequests += [...batch.values()].reduce((sum, d) => sum + d.requests, 0);
      appliedKeys += batch.size;
      const atMs = now();
      flushed = flushed.filter((entry) => atMs - entry.atMs < FLUSHED_MEMORY_MS);
      flushed.push({ atMs, byKey: batch });
    } catch (err) {
      for (const delta of batch.values()) mergeDelta(pending, delta);
      for (const row of rollups) pendingRollups.addRow(row);
      report(err);
      throw err;
    } finally {
      inFlight = new Map();
    }
  }

  async function flush(): Promise<void> {
    while (flushing) await flushing.catch(() => undefined);
    if (pending.size === 0) return;
    flushing = applyPending().finally(() => {
      flushing = null;
    });
    return flushing;
  }

  const timer = setInterval(
    () => {
      if (!flushing) flush().catch(() => undefined); // reported in applyPending; retried next tick
    },
    Math.max(1, opts.flushIntervalMs),
  );
  timer.unref();

  return {
    record(keyId, outcome) {
      const delta = buildDelta(keyId, outcome, now());
      if (opts.journal) journaledSeq = opts.journal.append(delta, outcome.rollup);
      mergeDelta(pending, delta);
      pendingRollups.add(delta, outcome.rollup);
    },
    pendingUsage(keyId, sinceMs) {
      const sum = { ...ZERO_AMOUNTS };
      addDeltaAmounts(sum, pending.get(keyId));
      addDeltaAmounts(sum, inFlight.get(keyId));
      if (sinceMs !== undefined) for (const entry of flushed) if (entry.atMs >= sinceMs) addDeltaAmounts(sum, entry.byKey.get(keyId));
      return sum;
    },
    flush,
    async close() {
      clearInterval(timer);
      while (flushing) await flushing.catch(() => undefined);
      const [requestsBefore, keysBefore] = [appliedRequests, appliedKeys];
      const closeReport = (): UsageCloseReport => ({
        flushedRequests: appliedRequests - requestsBefore,
        flushedKeys: appliedKeys - keysBefore,
        unappliedKeys: pending.size,
      });
      const attempts = Math.max(1, opts.maxCloseAttempts ?? 5);
      for (let i = 0; i < attempts; i++) {
        const ok = await flush().then(
          () => true,
          () => false,
        );
        if (ok && pending.size === 0) return closeReport();
        if (i + 1 < attempts) await delay(opts.closeRetryDelayMs ?? 200);
      }
      report(new Error(`usage recorder closed with unapplied usage for ${pending.size} key(s)`));
      return closeReport();
    },
  };
}

/** Adds what a delta counts against a budget into `sum`. */
function addDeltaAmounts(sum: BudgetAmounts, delta: KeyUsageDelta | undefined): void {
  if (!delta) return;
  sum.images += delta.images;
  sum.tokens += delta.totalTokens;
  sum.costMicros += delta.estimatedCostMicros;
}

/** One request's delta; bad numbers (negative, fractional, NaN) count as 0 rather than corrupting totals. */
export function buildDelta(keyId: string, outcome: UsageOutcome, nowMs: number): KeyUsageDelta {
  return {
    keyId,
    requests: 1,
    successes: outcome.success ? 1 : 0,
    images: toCount(outcome.images),
    inputTokens: toCount(outcome.inputTokens),
    outputTokens: toCount(outcome.outputTokens),
    totalTokens: toCount(outcome.totalTokens),
    usageMissing: outcome.success && outcome.totalTokens === null ? 1 : 0,
    estimatedCostMicros: toCount(outcome.estimatedCostMicros),
    lastUsedAt: nowMs,
  };
}

/** Adds `delta` into `into` (a map this module owns); `lastUsedAt` only moves forward. */
function mergeDelta(into: Map<string, KeyUsageDelta>, delta: KeyUsageDelta): void {
  const prev = into.get(delta.keyId);
  if (!prev) {
    into.set(delta.keyId, { ...delta });
    return;
  }
  into.set(delta.keyId, {
    keyId: delta.keyId,
    requests: prev.requests + delta.requests,
    successes: prev.successes + delta.successes,
    images: prev.images + delta.images,
    inputTokens: prev.inputTokens + delta.inputTokens,
    outputTokens: prev.outputTokens + delta.outputTokens,
    totalTokens: prev.totalTokens + delta.totalTokens,
    usageMissing: prev.usageMissing + delta.usageMissing,
    estimatedCostMicros: prev.estimatedCostMicros + delta.estimatedCostMicros,
    lastUsedAt: Math.max(prev.lastUsedAt, delta.lastUsedAt),
  });
}

function toCount(n: number | null): number {
  return n !== null && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
