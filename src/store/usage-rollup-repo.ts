import type { Db, DbParam, DbQuerier } from './db.js';
import type { UsageRollupDelta } from './types.js';
import { DAY_MS, buildDayStart, ROLLUP_MEASURES, USAGE_LATENCY_BUCKETS_MS } from './usage-rollups.js';

/** Each measure's column (migrations 0010 and 0011). */
const MEASURE_COLUMNS = {
  requests: 'requests',
  successes: 'successes',
  failuresRateLimited: 'failures_rate_limited',
  failuresClient: 'failures_client',
  failuresUpstream: 'failures_upstream',
  failuresAborted: 'failures_aborted',
  images: 'images',
  inputTokens: 'input_tokens',
  imageInputTokens: 'image_input_tokens',
  outputTokens: 'output_tokens',
  totalTokens: 'total_tokens',
  usageMissing: 'usage_missing',
  estimatedCostMicros: 'estimated_cost_micros',
  unpricedRequests: 'unpriced_requests',
  upstreamBytes: 'upstream_bytes',
  latencyMsSum: 'latency_ms_sum',
} as const satisfies Record<(typeof ROLLUP_MEASURES)[number], string>;

/** The histogram's columns, one per bound and one above them all, in `latencyBuckets` order. */
export const LATENCY_COLUMNS = [...USAGE_LATENCY_BUCKETS_MS.map((ms) => `latency_le_${ms}`), `latency_gt_${USAGE_LATENCY_BUCKETS_MS.at(-1)}`];

/** Every counted column, measures then histogram. */
const COUNT_COLUMNS = [...ROLLUP_MEASURES.map((m) => MEASURE_COLUMNS[m]), ...LATENCY_COLUMNS];
const DIMENSIONS = ['key_id', 'account_id', 'model', 'endpoint'];

/**
 * One statement for a whole batch of hourly rows, like the key counters' upsert: one array per column
 * through unnest(), existing rows incremented in place (never read-modify-write), so concurrent
 * writers never lose an increment.
 */
const UPSERT_HOURLY_SQL = `
  INSERT INTO usage_hourly AS u (hour_start, ${DIMENSIONS.join(', ')}, ${COUNT_COLUMNS.join(', ')})
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], ${COUNT_COLUMNS.map((_, i) => `$${i + 6}::bigint[]`).join(', ')})
  ON CONFLICT (hour_start, ${DIMENSIONS.join(', ')}) DO UPDATE SET
    ${COUNT_COLUMNS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(',\n    ')}`;

/**
 * Adds rows to `usage_hourly` in one statement. Rows must be distinct by dimensions and sorted (as
 * UsageRollupAccumulator.rows() gives them), so concurrent batches lock rows in the same order.
 * Runs inside the caller's transaction: the usage flush writes key counters and rollups together.
 */
export async function upsertUsageRollups(db: DbQuerier, rows: readonly UsageRollupDelta[]): Promise<void> {
  if (rows.length === 0) return;
  const params: DbParam[] = [
    rows.map((r) => r.bucketStart),
    rows.map((r) => r.keyId),
    rows.map((r) => r.accountId ?? ''),
    rows.map((r) => r.model),
    rows.map((r) => r.endpoint),
    ...ROLLUP_MEASURES.map((m) => rows.map((r) => r[m])),
    ...LATENCY_COLUMNS.map((_, i) => rows.map((r) => r.latencyBuckets[i] ?? 0)),
  ];
  await db.query(UPSERT_HOURLY_SQL, params);
}

/**
 * Moves hourly rows older than the cutoff into daily ones in one statement: the DELETE … RETURNING
 * hands the removed rows to the INSERT, so a row is either still hourly or already in its day, never
 * both or neither. A concurrent sweep waits on the rows this one deleted and then finds them gone.
 */
const ROLL_INTO_DAILY_SQL = `
  WITH moved AS (DELETE FROM usage_hourly WHERE hour_start < $1 RETURNING *)
  INSERT INTO usage_daily AS d (day_start, ${DIMENSIONS.join(', ')}, ${COUNT_COLUMNS.join(', ')})
  SELECT hour_start - hour_start % ${DAY_MS}, ${DIMENSIONS.join(', ')}, ${COUNT_COLUMNS.map((c) => `sum(${c})`).join(', ')}
    FROM moved
   GROUP BY 1, ${DIMENSIONS.map((_, i) => i + 2).join(', ')}
   ORDER BY 1, ${DIMENSIONS.map((_, i) => i + 2).join(', ')}
  ON CONFLICT (day_start, ${DIMENSIONS.join(', ')}) DO UPDATE SET
    ${COUNT_COLUMNS.map((c) => `${c} = d.${c} + EXCLUDED.${c}`).join(',\n    ')}
  RETURNING 1`;

/** How often each data plane sweeps the usage rollups; retention is counted in days, so this only bounds lag. */
export const USAGE_ROLLUP_SWEEP_MS = 10 * 60_000;

export interface UsageRollupRetention {
  /** Hourly rows of UTC days that ended more than this many days ago become daily rows. */
  hourlyRetentionDays: number;
  /** Daily rows of days that ended more than this many days ago are deleted. */
  dailyRetentionDays: number;
  nowMs: number;
}

/** What one sweep did. */
export interface UsageRollupSweep {
  /** Daily rows written (new or added to) from hourly ones. */
  rolledDays: number;
  /** Daily rows deleted for being past their retention. */
  deletedDays: number;
}

/**
 * Rolls hourly rows older than the hourly retention into daily rows and deletes daily rows older than
 * the daily retention, in one transaction. Cutoffs fall on UTC midnight, so a day is either all
 * hourly or all daily. Idempotent, and safe with several processes sweeping the same database.
 */
export function sweepUsageRollups(db: Db, retention: UsageRollupRetention): Promise<UsageRollupSweep> {
  const hourlyCutoff = buildDayStart(retention.nowMs - retention.hourlyRetentionDays * DAY_MS);
  const dailyCutoff = buildDayStart(retention.nowMs - retention.dailyRetentionDays * DAY_MS);
  return db.transaction(async (tx) => {
    const rolled = await tx.query(ROLL_INTO_DAILY_SQL, [hourlyCutoff]);
    const deleted = await tx.query('DELETE FROM usage_daily WHERE day_start < $1 RETURNING 1', [dailyCutoff]);
    return { rolledDays: rolled.length, deletedDays: deleted.length };
  });
}

/** What a rollup read groups by: up to two of these, at most one of them a time bucket. */
export const USAGE_ROLLUP_GROUPINGS = ['key', 'account', 'model', 'endpoint', 'day', 'hour'] as const;
export type UsageRollupGrouping = (typeof USAGE_ROLLUP_GROUPINGS)[number];

/** The SQL expression of each grouping over the union of hourly and daily rows. */
const GROUP_EXPRESSIONS = {
  key: 'key_id',
  account: 'account_id',
  model: 'model',
  endpoint: 'endpoint',
  day: `bucket_start - bucket_start % ${DAY_MS}`,
  hour: 'bucket_start',
} as const satisfies Record<UsageRollupGrouping, string>;

/** The groupings whose values are bucket starts (ms), not names; a read groups by at most one of them. */
export const USAGE_TIME_GROUPINGS: ReadonlySet<UsageRollupGrouping> = new Set(['day', 'hour']);

/** A rollup row's measures and histogram, without its dimensions. */
export type UsageRollupMeasures = Omit<UsageRollupDelta, 'bucketStart' | 'keyId' | 'accountId' | 'model' | 'endpoint'>;

/**
 * One group's sums, with the value of each grouping asked for: a key id, an account id (null: no
 * account answered), a model, an endpoint, or a bucket start in ms (`day`, `hour`).
 */
export type UsageRollupTotals = UsageRollupMeasures & {
  key?: string;
  account?: string | null;
  model?: string;
  endpoint?: string;
  day?: number;
  hour?: number;
};

export interface UsageRollupQuery {
  /** Rows whose hour (or day, once rolled into daily rows) starts at or after this, ms. */
  sinceMs: number;
  /** …and before this, ms. */
  untilMs: number;
  /** One or two groupings (see USAGE_ROLLUP_GROUPINGS); rows are ordered by them in this order. */
  by: readonly UsageRollupGrouping[];
  /** Only this key's rows. */
  keyId?: string;
  /** Only this account's rows ('' : those no account answered). */
  accountId?: string;
}

/**
 * Sums the rollups of a time range, grouped, from hourly and daily rows together. The range is
 * matched against each row's start: past the hourly retention a day is one row, so its usage counts
 * whole when its day starts in the range. Grouping by hour gives such a day as one bucket at midnight.
 */
export async function sumUsageRollups(db: DbQuerier, query: UsageRollupQuery): Promise<UsageRollupTotals[]> {
  const sums = [...ROLLUP_MEASURES.map((m) => `sum(${MEASURE_COLUMNS[m]})::bigint AS "${m}"`), ...LATENCY_COLUMNS.map((c) => `sum(${c})::bigint AS "${c}"`)];
  const columns = `key_id, account_id, model, endpoint, ${COUNT_COLUMNS.join(', ')}`;
  const params: DbParam[] = [query.sinceMs, query.untilMs];
  const filters: string[] = [];
  if (query.keyId !== undefined) filters.push(`key_id = $${params.push(query.keyId)}`);
  if (query.accountId !== undefined) filters.push(`account_id = $${params.push(query.accountId)}`);
  const where = filters.map((f) => ` AND ${f}`).join('');
  const groups = query.by.map((g) => `${GROUP_EXPRESSIONS[g]} AS "${g}"`);
  const positions = query.by.map((_, i) => i + 1).join(', ');
  const rows = await db.query<Record<string, number | string>>(
    `WITH rollups AS (
       SELECT hour_start AS bucket_start, ${columns} FROM usage_hourly WHERE hour_start >= $1 AND hour_start < $2${where}
       UNION ALL
       SELECT day_start AS bucket_start, ${columns} FROM usage_daily WHERE day_start >= $1 AND day_start < $2${where})
     SELECT ${[...groups, ...sums].join(', ')} FROM rollups GROUP BY ${positions} ORDER BY ${positions}`,
    params,
  );
  return rows.map((row) => buildTotals(row, query.by));
}

function buildTotals(row: Record<string, number | string>, by: readonly UsageRollupGrouping[]): UsageRollupTotals {
  const totals = { latencyBuckets: LATENCY_COLUMNS.map((c) => Number(row[c])) } as UsageRollupTotals;
  for (const g of by) (totals as Record<string, unknown>)[g] = USAGE_TIME_GROUPINGS.has(g) ? Number(row[g]) : g === 'account' && row[g] === '' ? null : row[g];
  for (const m of ROLLUP_MEASURES) totals[m] = Number(row[m]);
  return totals;
}
