/**
 * The estimated cost in the schema (migration 0011): key counters and rollup rows add it like the
 * other measures, the hourly → daily sweep keeps it, a journal replay restores it, and the CHECK
 * constraints refuse what no request can produce.
 */
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { insertKey } from '../../src/store/key-repo.js';
import { migrate } from '../../src/store/migrator.js';
import type { KeyUsageDelta, UsageRollupFacts } from '../../src/store/types.js';
import { replayJournaledUsage } from '../../src/store/usage-journal-repo.js';
import { applyUsageDeltas, findKeyUsage } from '../../src/store/usage-repo.js';
import { sweepUsageRollups, upsertUsageRollups } from '../../src/store/usage-rollup-repo.js';
import { DAY_MS, HOUR_MS, UsageRollupAccumulator } from '../../src/store/usage-rollups.js';
import { describeEachBackend } from '../support/databases.js';
import { makeKey } from '../support/snapshot-fixtures.js';

const KEY = 'key_0000000000000000000000c5';
const NOW = Date.UTC(2026, 10, 30, 12, 30);
const HOUR = Date.UTC(2026, 10, 30, 12);

const delta = (overrides: Partial<KeyUsageDelta> = {}): KeyUsageDelta => ({
  keyId: KEY,
  requests: 1,
  successes: 1,
  images: 1,
  inputTokens: 17,
  outputTokens: 1_372,
  totalTokens: 1_389,
  usageMissing: 0,
  estimatedCostMicros: 41_260,
  lastUsedAt: NOW,
  ...overrides,
});
const facts = (overrides: Partial<UsageRollupFacts> = {}): UsageRollupFacts => ({
  hourStart: HOUR,
  accountId: 'acct_1',
  model: 'gpt-image-2',
  endpoint: 'generations',
  failureClass: null,
  upstreamBytes: 1_000,
  latencyMs: 2_000,
  unpriced: false,
  imageInputTokens: 0,
  ...overrides,
});

/** The cost columns of every rollup row of a table, in dimension order. */
const readCosts = (db: Parameters<typeof upsertUsageRollups>[0], table: 'usage_hourly' | 'usage_daily') =>
  db.query<{ model: string; requests: number; estimated_cost_micros: number; unpriced_requests: number }>(
    `SELECT model, requests::int, estimated_cost_micros::int, unpriced_requests::int FROM ${table} WHERE key_id = $1 ORDER BY model`,
    [KEY],
  );

describeEachBackend('estimated cost in the usage tables', ({ database }) => {
  beforeAll(async () => {
    const { db } = database();
    await migrate(db);
    await db.transaction((tx) => insertKey(tx, makeKey({ id: KEY, name: 'cost', hash: 'c'.repeat(64), prefix: 'cig_c', createdAt: 1, updatedAt: 1 })));
  });
  beforeEach(async () => {
    const { db } = database();
    await db.query('DELETE FROM key_usage');
    await db.query('DELETE FROM usage_hourly');
    await db.query('DELETE FROM usage_daily');
  });

  it('key counters add the cost atomically; rollup rows add it with the unpriced count, and the daily sweep keeps both', async () => {
    const { db } = database();
    await Promise.all(Array.from({ length: 10 }, () => applyUsageDeltas(db, [delta()])));
    expect(await findKeyUsage(db, KEY)).toMatchObject({ requests: 10, estimatedCostMicros: 412_600 });

    const acc = new UsageRollupAccumulator();
    acc.add(delta(), facts());
    acc.add(delta({ estimatedCostMicros: 0 }), facts({ model: 'dall-e-9', unpriced: true }));
    acc.add(delta({ estimatedCostMicros: 0 }), facts({ model: 'dall-e-9', unpriced: true }));
    await upsertUsageRollups(db, acc.rows());
    await upsertUsageRollups(db, acc.rows());
    const hourly = [
      { model: 'dall-e-9', requests: 4, estimated_cost_micros: 0, unpriced_requests: 4 },
      { model: 'gpt-image-2', requests: 2, estimated_cost_micros: 82_520, unpriced_requests: 0 },
    ];
    expect(await readCosts(db, 'usage_hourly')).toEqual(hourly);

    // 40 days later the hour is past the hourly retention: its rows move into their day, sums intact.
    await sweepUsageRollups(db, { nowMs: NOW + 40 * DAY_MS, hourlyRetentionDays: 35, dailyRetentionDays: 800 });
    expect(await readCosts(db, 'usage_hourly')).toEqual([]);
    expect(await readCosts(db, 'usage_daily')).toEqual(hourly);
  });

  it('a replayed journal restores the cost in the counters and the rollups once', async () => {
    const { db } = database();
    const writer = 'w-cost-replay-1';
    const records = [1, 2, 3].map((seq) => ({ seq, delta: delta({ estimatedCostMicros: seq * 1_000 }), facts: facts({ hourStart: HOUR + HOUR_MS }) }));
    expect(await replayJournaledUsage(db, writer, records)).toBe(3);
    expect(await replayJournaledUsage(db, writer, records)).toBe(0);
    expect(await findKeyUsage(db, KEY)).toMatchObject({ requests: 3, estimatedCostMicros: 6_000 });
    expect(await readCosts(db, 'usage_hourly')).toEqual([{ model: 'gpt-image-2', requests: 3, estimated_cost_micros: 6_000, unpriced_requests: 0 }]);
    await db.query('DELETE FROM usage_journal_marks WHERE writer_id = $1', [writer]);
  });

  it.each([
    ['a negative key cost', `UPDATE key_usage SET estimated_cost_micros = -1`],
    ['a negative rollup cost', `UPDATE usage_hourly SET estimated_cost_micros = -1`],
    ['more unpriced requests than requests', `UPDATE usage_hourly SET unpriced_requests = requests + 1`],
    ['a negative unpriced count', `UPDATE usage_hourly SET unpriced_requests = -1`],
  ])('the schema refuses %s', async (_name, sql) => {
    const { db } = database();
    await applyUsageDeltas(db, [delta()]);
    const acc = new UsageRollupAccumulator();
    acc.add(delta(), facts());
    await upsertUsageRollups(db, acc.rows());
    await expect(db.query(sql)).rejects.toThrow(/check constraint/);
  });
});
