/**
 * Section (k) of the benchmark: what the usage rollups cost. Two measurements, both in this process
 * on the product's own modules:
 * - a flush of 10,000 distinct rollup rows into an embedded database (PGlite in a temporary
 *   directory, migrated), through the data plane's own flush (`applyJournaledBatch`: key counters,
 *   rollups and the journal mark in one transaction), once as new rows and once adding to existing
 *   ones, and the rollup upsert alone in a transaction;
 * - the rollups' share of a request's usage bookkeeping, which runs before the answer's last byte
 *   (so it is latency): the accumulator's `add` and the rollup fields of the request's journal line.
 *   There is no switch that turns rollups off, so the share is measured piece by piece next to the
 *   whole `record()` call, on a real journal file.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageJournal } from '../src/observe/usage-journal.js';
import { createUsageRecorder, type UsageOutcome } from '../src/observe/usage-recorder.js';
import { migrate } from '../src/store/migrator.js';
import { createPgliteDb } from '../src/store/pglite-db.js';
import type { KeyUsageDelta, UsageRollupDelta, UsageRollupFacts } from '../src/store/types.js';
import { applyJournaledBatch } from '../src/store/usage-journal-repo.js';
import { upsertUsageRollups } from '../src/store/usage-rollup-repo.js';
import { HOUR_MS, UsageRollupAccumulator, buildHourStart } from '../src/store/usage-rollups.js';

const elapsedMs = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;

/** One successful one-image request's key counters, as a typical generation reports them. */
const buildOneImageDelta = (keyId: string, atMs: number): KeyUsageDelta => ({
  keyId,
  requests: 1,
  successes: 1,
  images: 1,
  inputTokens: 17,
  outputTokens: 1372,
  totalTokens: 1389,
  usageMissing: 0,
  estimatedCostMicros: 40_000,
  lastUsedAt: atMs,
});

/** The rows of one flush: `keys` keys × 2 accounts × 2 models, in one hour (4 rows per key). */
function buildFlushBatch(hourStart: number, keys: number): { deltas: KeyUsageDelta[]; rollups: UsageRollupDelta[] } {
  const acc = new UsageRollupAccumulator();
  const deltas: KeyUsageDelta[] = [];
  for (let k = 0; k < keys; k++) {
    const keyId = `key_${String(k).padStart(24, '0')}`;
    const delta = buildOneImageDelta(keyId, hourStart);
    for (const accountId of ['acct_bench_1', 'acct_bench_2']) {
      for (const model of ['gpt-image-1', 'gpt-image-2']) {
        acc.add(delta, {
          hourStart,
          accountId,
          model,
          endpoint: 'generations',
          failureClass: null,
          upstreamBytes: 4_000,
          latencyMs: 1_800,
          unpriced: false,
          imageInputTokens: 0,
        });
      }
    }
    deltas.push({ ...delta, requests: 4, successes: 4, images: 4, inputTokens: 68, outputTokens: 5_488, totalTokens: 5_556, estimatedCostMicros: 160_000 });
  }
  return { deltas, rollups: acc.rows() };
}

/** Times (ms) of `runs` flushes of 10,000 distinct rollup rows on PGlite, each way. */
export interface RollupFlushFigures {
  rows: number;
  /** The data plane's flush (key counters + rollups + mark, one transaction) of rows that are new. */
  insertMs: number[];
  /** The same flush again: every row already exists and is added to. */
  updateMs: number[];
  /** The rollup upsert alone, in a transaction, of new rows. */
  upsertInsertMs: number[];
  /** …and of rows that all exist. */
  upsertUpdateMs: number[];
}

/** Flushes 10,000 distinct rows `runs` times each way, each run in hours of its own. */
export async function measureRollupFlush(runs: number): Promise<RollupFlushFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'cig-bench-rollups-'));
  const db = await createPgliteDb({ dataDir: join(dir, 'pgdata') });
  const figures: RollupFlushFigures = { rows: 0, insertMs: [], updateMs: [], upsertInsertMs: [], upsertUpdateMs: [] };
  let seq = 0;
  const timeMs = async (write: () => Promise<void>): Promise<number> => {
    const started = process.hrtime.bigint();
    await write();
    return elapsedMs(started);
  };
  const flush = (batch: ReturnType<typeof buildFlushBatch>) => timeMs(() => applyJournaledBatch(db, 'bench-writer', ++seq, batch.deltas, batch.rollups));
  const upsertOnly = (batch: ReturnType<typeof buildFlushBatch>) => timeMs(() => db.transaction((tx) => upsertUsageRollups(tx, batch.rollups)));
  try {
    await migrate(db);
    const firstHour = buildHourStart(Date.now()) - 1_000 * HOUR_MS;
    // Unmeasured flushes first: PGlite compiles its plans and grows its heap on the first big statements.
    const warmUp = buildFlushBatch(firstHour - HOUR_MS, 2_500);
    await flush(warmUp);
    await flush(warmUp);
    for (let i = 0; i < runs; i++) {
      const batch = buildFlushBatch(firstHour + 2 * i * HOUR_MS, 2_500);
      figures.rows = batch.rollups.length;
      figures.insertMs.push(await flush(batch));
      figures.updateMs.push(await flush(batch));
      const alone = buildFlushBatch(firstHour + (2 * i + 1) * HOUR_MS, 2_500);
      figures.upsertInsertMs.push(await upsertOnly(alone));
      figures.upsertUpdateMs.push(await upsertOnly(alone));
    }
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}

/** Per-request costs (µs, medians of `runs`) of the usage bookkeeping and of its rollup share. */
export interface RollupRequestFigures {
  /** `record()` of the usage recorder with a real journal: everything usage costs a request. */
  recordUs: number[];
  /** `UsageRollupAccumulator.add`: the rollups' in-memory part. */
  accumulatorUs: number[];
  /** Serialising a journal line with the rollup fields, minus the same line without them. */
  journalFieldsUs: number[];
  /** Bytes the rollup fields add to a journal line. */
  journalFieldBytes: number;
}

/** A request's usage as the gateway records it: 3 keys, 2 accounts, one in ten failing. */
function buildOutcome(i: number, nowMs: number): { keyId: string; outcome: UsageOutcome } {
  const failed = i % 10 === 9;
  const rollup: UsageRollupFacts = {
    hourStart: buildHourStart(nowMs),
    accountId: failed ? null : `acct_bench_${i % 2}`,
    model: 'gpt-image-2',
    endpoint: 'generations',
    failureClass: failed ? 'rate_limited' : null,
    upstreamBytes: failed ? 0 : 4_096,
    latencyMs: 900 + (i % 50),
    unpriced: false,
    imageInputTokens: 0,
  };
  return {
    keyId: `key_bench_${i % 3}`,
    outcome: {
      success: !failed,
      images: failed ? 0 : 1,
      inputTokens: 17,
      outputTokens: 1372,
      totalTokens: 1389,
      estimatedCostMicros: failed ? 0 : 40_000,
      rollup,
    },
  };
}

/** Mean µs per call of `fn` over `count` calls. */
function timeEachUs(count: number, fn: (i: number) => void): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) fn(i);
  return (elapsedMs(started) * 1000) / count;
}

/** The journal line of a request as UsageJournal writes it (its field order), with or without the rollup fields. */
function buildJournalLine(seq: number, keyId: string, outcome: UsageOutcome, withFacts: boolean): Record<string, unknown> {
  const line: Record<string, unknown> = { seq, keyId, requests: 1, successes: outcome.success ? 1 : 0, images: outcome.images };
  Object.assign(line, { inputTokens: outcome.inputTokens, outputTokens: outcome.outputTokens, totalTokens: outcome.totalTokens, usageMissing: 0 });
  line.estimatedCostMicros = outcome.estimatedCostMicros;
  line.lastUsedAt = 1_800_000_000_000 + seq;
  if (withFacts) Object.assign(line, outcome.rollup);
  return line;
}

/** One run: `count` requests through each measured piece; the journal is a real file in `dir`. */
async function measureRequestRun(dir: string, count: number) {
  await mkdir(join(dir, 'journal'), { recursive: true });
  const nowMs = Date.now();
  const outcomes = Array.from({ length: 1_000 }, (_, i) => buildOutcome(i, nowMs));
  const journal = new UsageJournal({ dir: join(dir, 'journal'), maxFileBytes: 1 << 30, maxFileAgeMs: 3_600_000, syncIntervalMs: 1_000 });
  // Applied every 1,000 requests, as a flush would: the pending maps stay as small as at 1 connection.
  const recorder = createUsageRecorder({ apply: async () => undefined, journal, flushIntervalMs: 3_600_000 });
  const recordUs = timeEachUs(count, (i) => {
    const { keyId, outcome } = outcomes[i % 1_000]!;
    recorder.record(keyId, outcome);
    if (i % 1_000 === 999) void recorder.flush();
  });
  await recorder.close();
  journal.close();
  let acc = new UsageRollupAccumulator();
  const accumulatorUs = timeEachUs(count, (i) => {
    const { keyId, outcome } = outcomes[i % 1_000]!;
    acc.add(buildOneImageDelta(keyId, nowMs), outcome.rollup);
    if (i % 1_000 === 999) acc = new UsageRollupAccumulator();
  });
  // Serialising only: the line's write(2) (in recordUs) costs the same for 157 more bytes, and its
  // noise (a microsecond either way) would drown the difference. Batches alternate to cancel drift.
  let serialisedBytes = 0; // read below, so the engine cannot drop the work
  const serialise = (withFacts: boolean) => (i: number) => {
    const { keyId, outcome } = outcomes[i % 1_000]!;
    serialisedBytes += Buffer.from(`${JSON.stringify(buildJournalLine(i, keyId, outcome, withFacts))}\n`).length;
  };
  let without = 0;
  let withFacts = 0;
  for (let b = 0; b < 10; b++) {
    without += timeEachUs(count / 10, serialise(false)) / 10;
    withFacts += timeEachUs(count / 10, serialise(true)) / 10;
  }
  if (serialisedBytes === 0) throw new Error('no journal line was serialised');
  return { recordUs, accumulatorUs, journalFieldsUs: withFacts - without };
}

/** `runs` runs of `count` requests each, after one unmeasured run (JIT). */
export async function measureRollupRequestCost(runs: number, count = 50_000): Promise<RollupRequestFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'cig-bench-rollup-path-'));
  const figures: RollupRequestFigures = { recordUs: [], accumulatorUs: [], journalFieldsUs: [], journalFieldBytes: 0 };
  try {
    await measureRequestRun(join(dir, 'warm-up'), count);
    for (let r = 0; r < runs; r++) {
      const run = await measureRequestRun(join(dir, `run-${r}`), count);
      figures.recordUs.push(run.recordUs);
      figures.accumulatorUs.push(run.accumulatorUs);
      figures.journalFieldsUs.push(run.journalFieldsUs);
    }
    const { keyId, outcome } = buildOutcome(0, Date.now());
    const bytes = (withFacts: boolean) => Buffer.byteLength(JSON.stringify(buildJournalLine(1, keyId, outcome, withFacts)));
    figures.journalFieldBytes = bytes(true) - bytes(false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}
