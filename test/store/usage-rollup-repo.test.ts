import { beforeAll, beforeEach, expect, it } from 'vitest';
import { migrate } from '../../src/store/migrator.js';
import type { KeyUsageDelta, UsageRollupDelta, UsageRollupFacts } from '../../src/store/types.js';
import { replayJournaledUsage } from '../../src/store/usage-journal-repo.js';
import { sumUsageRollups, sweepUsageRollups, upsertUsageRollups } from '../../src/store/usage-rollup-repo.js';
import { DAY_MS, HOUR_MS, UsageRollupAccumulator } from '../../src/store/usage-rollups.js';
import { describeEachBackend } from '../support/databases.js';

const NOW = Date.UTC(2026, 10, 30, 12, 30);
const TODAY = Date.UTC(2026, 10, 30);

const delta = (keyId: string, overrides: Partial<KeyUsageDelta> = {}): KeyUsageDelta => ({
  keyId,
  requests: 1,
  successes: 1,
  images: 1,
  inputTokens: 3,
  outputTokens: 4,
  totalTokens: 7,
  usageMissing: 0,
  estimatedCostMicros: 0,
  lastUsedAt: NOW,
  ...overrides,
});
const facts = (overrides: Partial<UsageRollupFacts> = {}): UsageRollupFacts => ({
  hourStart: TODAY + 12 * HOUR_MS,
  accountId: 'acct_1',
  model: 'gpt-image-1',
  endpoint: 'generations',
  failureClass: null,
  upstreamBytes: 1_000,
  latencyMs: 1_500,
  unpriced: false,
  imageInputTokens: 0,
  ...overrides,
});

/** One request's rollup row with the given dimensions. */
function buildRow(dims: { keyId: string; accountId: string | null; bucketStart: number }): UsageRollupDelta {
  const acc = new UsageRollupAccumulator();
  acc.add(delta(dims.keyId), facts({ hourStart: dims.bucketStart, accountId: dims.accountId }));
  return acc.rows()[0]!;
}

/** Rollup rows for `n` requests of key `keyId` at `hourStart` (one failure in every three). */
function rowsFor(keyId: string, hourStart: number, n: number): UsageRollupDelta[] {
  const acc = new UsageRollupAccumulator();
  for (let i = 0; i < n; i++) {
    const failed = i % 3 === 2;
    acc.add(
      delta(keyId, failed ? { successes: 0, images: 0, totalTokens: 0, inputTokens: 0, outputTokens: 0 } : {}),
      facts({ hourStart, failureClass: failed ? 'upstream' : null, latencyMs: 100 * i }),
    );
  }
  return acc.rows();
}

const everything = { sinceMs: 0, untilMs: Number.MAX_SAFE_INTEGER } as const;

describeEachBackend('usage rollups', ({ database }) => {
  beforeAll(async () => {
    await migrate(database().db);
  });
  beforeEach(async () => {
    await database().db.query('DELETE FROM usage_hourly');
    await database().db.query('DELETE FROM usage_daily');
  });

  it('adds a batch in one upsert: new rows are created, existing ones incremented column by column', async () => {
    const { db } = database();
    const hour = TODAY + 12 * HOUR_MS;
    await upsertUsageRollups(db, rowsFor('key_a', hour, 3));
    await upsertUsageRollups(db, [...rowsFor('key_a', hour, 3), ...rowsFor('key_b', hour + HOUR_MS, 1)]);
    const byKey = await sumUsageRollups(db, { ...everything, by: ['key'] });
    expect(byKey).toEqual([
      expect.objectContaining({
        key: 'key_a',
        requests: 6,
        successes: 4,
        failuresUpstream: 2,
        images: 4,
        totalTokens: 28,
        upstreamBytes: 6_000,
        latencyMsSum: 600,
      }),
      expect.objectContaining({ key: 'key_b', requests: 1, successes: 1, failuresUpstream: 0, latencyMsSum: 0 }),
    ]);
    // 0, 100 ms in the ≤100 bucket; 200 ms in the ≤250 one; twice each.
    expect(byKey[0]!.latencyBuckets.slice(0, 3)).toEqual([4, 2, 0]);
    expect(await sumUsageRollups(db, { ...everything, by: ['hour'] })).toEqual([
      expect.objectContaining({ hour: hour, requests: 6 }),
      expect.objectContaining({ hour: hour + HOUR_MS, requests: 1 }),
    ]);
    expect(await sumUsageRollups(db, { sinceMs: hour + HOUR_MS, untilMs: hour + 2 * HOUR_MS, by: ['account'] })).toEqual([
      expect.objectContaining({ account: 'acct_1', requests: 1 }),
    ]);
  });

  it('a request no account answered is stored with no account and read back as null', async () => {
    const { db } = database();
    const acc = new UsageRollupAccumulator();
    acc.add(delta('key_a', { successes: 0, images: 0 }), facts({ accountId: null, failureClass: 'rate_limited' }));
    await upsertUsageRollups(db, acc.rows());
    expect(await sumUsageRollups(db, { ...everything, by: ['account'] })).toEqual([
      expect.objectContaining({ account: null, requests: 1, failuresRateLimited: 1 }),
    ]);
  });

  it('groups by two dimensions in the order asked, and filters by key and by account, hourly and daily rows together', async () => {
    const { db } = database();
    const old = TODAY - 40 * DAY_MS;
    await upsertUsageRollups(db, [...rowsFor('key_a', old + HOUR_MS, 3), ...rowsFor('key_b', old + HOUR_MS, 1)]);
    await sweepUsageRollups(db, { hourlyRetentionDays: 35, dailyRetentionDays: 800, nowMs: NOW });
    await upsertUsageRollups(db, [...rowsFor('key_a', TODAY, 2), ...rowsFor('key_b', TODAY + HOUR_MS, 4)]);
    await upsertUsageRollups(db, [
      buildRow({ keyId: 'key_b', accountId: 'acct_2', bucketStart: TODAY + HOUR_MS }),
      buildRow({ keyId: 'key_b', accountId: null, bucketStart: TODAY + HOUR_MS }),
    ]);
    const byDayKey = await sumUsageRollups(db, { ...everything, by: ['day', 'key'] });
    expect(byDayKey.map((t) => [t.day, t.key, t.requests])).toEqual([
      [old, 'key_a', 3],
      [old, 'key_b', 1],
      [TODAY, 'key_a', 2],
      [TODAY, 'key_b', 6],
    ]);
    const byAccountHour = await sumUsageRollups(db, { ...everything, by: ['account', 'hour'], keyId: 'key_b' });
    expect(byAccountHour.map((t) => [t.account, t.hour, t.requests])).toEqual([
      [null, TODAY + HOUR_MS, 1],
      ['acct_1', old, 1],
      ['acct_1', TODAY + HOUR_MS, 4],
      ['acct_2', TODAY + HOUR_MS, 1],
    ]);
    expect((await sumUsageRollups(db, { ...everything, by: ['key'], accountId: 'acct_2' })).map((t) => [t.key, t.requests])).toEqual([['key_b', 1]]);
    expect((await sumUsageRollups(db, { ...everything, by: ['key'], accountId: '' })).map((t) => [t.key, t.requests])).toEqual([['key_b', 1]]);
  });

  it('concurrent upserts from two connections lose no increment', async () => {
    const { db } = database();
    // On Postgres a second pool, so the statements really run at once and contend for the same rows.
    const second = database().openAnother() ?? db;
    const hours = [TODAY, TODAY + HOUR_MS, TODAY + 2 * HOUR_MS];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        upsertUsageRollups(i % 2 === 0 ? db : second, [...rowsFor('key_a', hours[i % 3]!, 5), ...rowsFor('key_b', hours[(i + 1) % 3]!, 2)]),
      ),
    );
    const byKey = await sumUsageRollups(db, { ...everything, by: ['key'] });
    expect(byKey.map((t) => [t.key, t.requests, t.successes, t.failuresUpstream])).toEqual([
      ['key_a', 200, 40 * 4, 40],
      ['key_b', 80, 80, 0],
    ]);
    expect(byKey[0]!.latencyBuckets.reduce((a, b) => a + b, 0)).toBe(200);
  });

  it('the sweeper rolls exactly the hourly rows of days past retention into daily rows, totals preserved', async () => {
    const { db } = database();
    const old = TODAY - 40 * DAY_MS;
    const edge = TODAY - 35 * DAY_MS; // the first day still kept hourly (35 days of retention)
    await upsertUsageRollups(db, [
      ...rowsFor('key_a', old + 3 * HOUR_MS, 3),
      ...rowsFor('key_a', old + 20 * HOUR_MS, 6),
      ...rowsFor('key_b', edge + HOUR_MS, 2),
    ]);
    await upsertUsageRollups(db, rowsFor('key_a', edge - HOUR_MS, 3)); // the last hour of the day before `edge`
    const before = await sumUsageRollups(db, { ...everything, by: ['key'] });

    const sweep = await sweepUsageRollups(db, { nowMs: NOW, hourlyRetentionDays: 35, dailyRetentionDays: 800 });
    expect(sweep).toEqual({ rolledDays: 2, deletedDays: 0 });
    expect(await sumUsageRollups(db, { ...everything, by: ['key'] })).toEqual(before);
    const hourly = await db.query<{ hourStart: number }>('SELECT hour_start AS "hourStart" FROM usage_hourly');
    expect(hourly.map((r) => Number(r.hourStart))).toEqual([edge + HOUR_MS]);
    expect(await sumUsageRollups(db, { ...everything, by: ['day'] })).toEqual([
      expect.objectContaining({ day: old, requests: 9 }),
      expect.objectContaining({ day: edge - DAY_MS, requests: 3 }),
      expect.objectContaining({ day: edge, requests: 2 }),
    ]);
    // A second sweep (another process, or the next interval) finds nothing to do.
    expect(await sweepUsageRollups(db, { nowMs: NOW, hourlyRetentionDays: 35, dailyRetentionDays: 800 })).toEqual({ rolledDays: 0, deletedDays: 0 });
    expect(await sumUsageRollups(db, { ...everything, by: ['key'] })).toEqual(before);
  });

  it('a late hourly row of an already rolled day is added to its daily row; daily rows past their retention are deleted', async () => {
    const { db } = database();
    const old = TODAY - 40 * DAY_MS;
    await upsertUsageRollups(db, rowsFor('key_a', old, 3));
    await sweepUsageRollups(db, { nowMs: NOW, hourlyRetentionDays: 35, dailyRetentionDays: 800 });
    await upsertUsageRollups(db, rowsFor('key_a', old + 5 * HOUR_MS, 3)); // a journal replayed late
    await sweepUsageRollups(db, { nowMs: NOW, hourlyRetentionDays: 35, dailyRetentionDays: 800 });
    expect(await sumUsageRollups(db, { ...everything, by: ['day'] })).toEqual([expect.objectContaining({ day: old, requests: 6, successes: 4 })]);

    expect(await sweepUsageRollups(db, { nowMs: NOW, hourlyRetentionDays: 35, dailyRetentionDays: 40 })).toEqual({ rolledDays: 0, deletedDays: 0 });
    expect(await sweepUsageRollups(db, { nowMs: NOW, hourlyRetentionDays: 35, dailyRetentionDays: 39 })).toEqual({ rolledDays: 0, deletedDays: 1 });
    expect(await sumUsageRollups(db, { ...everything, by: ['day'] })).toEqual([]);
  });

  it("a replayed journal adds its records' rollups once, with the counters' mark; records without facts add none", async () => {
    const { db } = database();
    const writer = 'w-rollup-replay-1';
    const records = Array.from({ length: 6 }, (_, i) => ({
      seq: i + 1,
      delta: delta('key_a', i === 5 ? { successes: 0, images: 0 } : {}),
      facts: i === 0 ? null : facts({ failureClass: i === 5 ? ('client' as const) : null }),
    }));
    expect(await replayJournaledUsage(db, writer, records.slice(0, 4))).toBe(4);
    expect(await replayJournaledUsage(db, writer, records)).toBe(2);
    expect(await replayJournaledUsage(db, writer, records)).toBe(0);
    expect(await sumUsageRollups(db, { ...everything, by: ['key'] })).toEqual([
      expect.objectContaining({ key: 'key_a', requests: 5, successes: 4, failuresClient: 1, images: 4 }),
    ]);
    await db.query('DELETE FROM usage_journal_marks WHERE writer_id = $1', [writer]);
  });

  it('a damaged but readable record still makes a row the schema accepts (a replay must never fail on it for good)', async () => {
    const { db } = database();
    const acc = new UsageRollupAccumulator();
    // More successes than requests, a failure without a class, an hour start off the hour.
    acc.add(delta('key_a', { requests: 2, successes: 5 }), facts({ hourStart: TODAY + 17 }));
    acc.add(delta('key_a', { requests: 3, successes: 0 }), facts({ failureClass: null, hourStart: TODAY + 1 }));
    await upsertUsageRollups(db, acc.rows());
    expect(await sumUsageRollups(db, { ...everything, by: ['hour'] })).toEqual([
      expect.objectContaining({ hour: TODAY, requests: 5, successes: 2, failuresUpstream: 3 }),
    ]);
  });

  it('the schema refuses a row that is not on an hour, or whose failures and successes do not add up', async () => {
    const { db } = database();
    const [row] = rowsFor('key_a', TODAY, 1);
    await expect(upsertUsageRollups(db, [{ ...row!, bucketStart: TODAY + 1 }])).rejects.toThrow();
    await expect(upsertUsageRollups(db, [{ ...row!, successes: 0 }])).rejects.toThrow();
  });

  it('one sweep leaves exactly the rows inside each retention: hourly ones from the hourly cutoff on, daily ones from the daily cutoff on', async () => {
    const { db } = database();
    const day = (n: number) => TODAY - n * DAY_MS;
    await upsertUsageRollups(db, [
      ...rowsFor('key_a', day(12) + 5 * HOUR_MS, 2), // past both retentions: rolled, then deleted
      ...rowsFor('key_b', day(11) + 23 * HOUR_MS, 1), // the same
      ...rowsFor('key_a', day(10) + HOUR_MS, 3), // the oldest day kept: daily
      ...rowsFor('key_b', day(10) + 2 * HOUR_MS, 1), // the same day, another key: its own daily row
      ...rowsFor('key_b', day(4) + 23 * HOUR_MS, 4), // the last hour of the newest day rolled
      ...rowsFor('key_b', day(3), 5), // the first hour of the oldest day kept hourly
      ...rowsFor('key_a', TODAY + 12 * HOUR_MS, 6),
    ]);
    const rowsOf = async (table: 'usage_hourly' | 'usage_daily', start: 'hour_start' | 'day_start') =>
      (
        await db.query<{ start: number | string; key: string; requests: number | string }>(
          `SELECT ${start} AS start, key_id AS key, requests FROM ${table} ORDER BY ${start}, key_id`,
        )
      ).map((r) => [Number(r.start), r.key, Number(r.requests)]);

    expect(await sweepUsageRollups(db, { nowMs: NOW, hourlyRetentionDays: 3, dailyRetentionDays: 10 })).toEqual({ rolledDays: 5, deletedDays: 2 });
    expect(await rowsOf('usage_hourly', 'hour_start')).toEqual([
      [day(3), 'key_b', 5],
      [TODAY + 12 * HOUR_MS, 'key_a', 6],
    ]);
    expect(await rowsOf('usage_daily', 'day_start')).toEqual([
      [day(10), 'key_a', 3],
      [day(10), 'key_b', 1],
      [day(4), 'key_b', 4],
    ]);
  });
});
