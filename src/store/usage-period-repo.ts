import { findPeriodSpan } from '../limits/budget-period.js';
import type { BudgetAmounts } from '../limits/key-budget.js';
import type { DbQuerier } from './db.js';
import type { KeyRecord, PeriodUsage } from './types.js';
import { buildHourStart } from './usage-rollups.js';

/**
 * One statement for every key: periodic keys ($1, each from its own start $2) sum the hourly and
 * daily rollups; lifetime keys ($3) read their counters.
 */
const PERIOD_USAGE_SQL = `
  SELECT t.key_id AS "keyId", sum(u.images)::bigint AS "images", sum(u.total_tokens)::bigint AS "tokens",
         sum(u.estimated_cost_micros)::bigint AS "costMicros"
    FROM unnest($1::text[], $2::bigint[]) AS t(key_id, since)
    JOIN (SELECT key_id, hour_start AS bucket_start, images, total_tokens, estimated_cost_micros FROM usage_hourly
          UNION ALL
          SELECT key_id, day_start, images, total_tokens, estimated_cost_micros FROM usage_daily) u
      ON u.key_id = t.key_id AND u.bucket_start >= t.since
   GROUP BY t.key_id
  UNION ALL
  SELECT key_id, images, total_tokens, estimated_cost_micros FROM key_usage WHERE key_id = ANY($3::text[])`;

type KeyQuotaRecord = Pick<KeyRecord, 'id' | 'quotaPeriod' | 'usageReset'>;

/**
 * Each key's usage in the quota period that holds `nowMs` (boundaries at midnight in `timeZone`):
 * the lifetime counters for a `none` period, else the usage rollups since the period began, less
 * the key's reset baseline when the reset happened in this period. Rollups are hourly, so a period
 * that starts inside an hour (a time zone with a half-hour offset) counts that whole hour.
 */
export async function loadPeriodUsage(db: DbQuerier, keys: readonly KeyQuotaRecord[], nowMs: number, timeZone: string): Promise<Map<string, PeriodUsage>> {
  const spans = new Map(keys.map((key) => [key.id, findPeriodSpan(key.quotaPeriod, nowMs, timeZone)]));
  const periodic = keys.filter((key) => key.quotaPeriod !== 'none');
  const lifetime = keys.filter((key) => key.quotaPeriod === 'none');
  const rows =
    keys.length === 0
      ? []
      : await db.query<{ keyId: string; images: number; tokens: number; costMicros: number }>(PERIOD_USAGE_SQL, [
          periodic.map((k) => k.id),
          periodic.map((k) => buildHourStart(spans.get(k.id)!.startMs)),
          lifetime.map((k) => k.id),
        ]);
  const raw = new Map(rows.map((r) => [r.keyId, { images: Number(r.images), tokens: Number(r.tokens), costMicros: Number(r.costMicros) }]));
  const usage = new Map<string, PeriodUsage>();
  for (const key of keys) {
    const span = spans.get(key.id)!;
    const used = raw.get(key.id) ?? { images: 0, tokens: 0, costMicros: 0 };
    usage.set(key.id, { periodStartMs: span.startMs, periodEndMs: span.endMs, used: subtractResetBaseline(used, key.usageReset, span.startMs) });
  }
  return usage;
}

/** Usage counted from a reset made in this period (never below zero: the baseline may hold usage the rollups gave to the hour before). */
export function subtractResetBaseline(used: BudgetAmounts, reset: KeyRecord['usageReset'], periodStartMs: number): BudgetAmounts {
  if (!reset || reset.at < periodStartMs) return used;
  return {
    images: Math.max(0, used.images - reset.images),
    tokens: Math.max(0, used.tokens - reset.tokens),
    costMicros: Math.max(0, used.costMicros - reset.costMicros),
  };
}
