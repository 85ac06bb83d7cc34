import { isDbErrorCode, PG_ERROR_CODES, type DbQuerier } from './db.js';
import type { KeyUsage, KeyUsageDelta } from './types.js';

/** The counters of a delta, in column order (the table below maps each to its column). */
const COUNTER_COLUMNS = {
  requests: 'requests',
  successes: 'successes',
  images: 'images',
  inputTokens: 'input_tokens',
  outputTokens: 'output_tokens',
  totalTokens: 'total_tokens',
  usageMissing: 'usage_missing',
  estimatedCostMicros: 'estimated_cost_micros',
} as const satisfies Partial<Record<keyof KeyUsageDelta, string>>;

/** A usage counter's name (every numeric field of KeyUsage except `lastUsedAt`). */
export type UsageCounter = keyof typeof COUNTER_COLUMNS;
/** Every usage counter, in column order. */
export const USAGE_COUNTERS = Object.keys(COUNTER_COLUMNS) as UsageCounter[];
const COUNTERS = USAGE_COUNTERS;
const COLUMNS = Object.values(COUNTER_COLUMNS);

/**
 * One statement for the whole batch: rows come from unnest() over one array per column; keys that
 * no longer exist are filtered out; existing rows are incremented in place (never read-modify-write)
 * and `last_used_at` only moves forward.
 */
const UPSERT_SQL = `
  INSERT INTO key_usage AS u (key_id, ${COLUMNS.join(', ')}, last_used_at)
  SELECT d.key_id, ${COLUMNS.map((c) => `d.${c}`).join(', ')}, d.last_used_at
    FROM unnest($1::text[], ${COLUMNS.map((_, i) => `$${i + 2}::bigint[]`).join(', ')}, $${COLUMNS.length + 2}::bigint[])
         AS d(key_id, ${COLUMNS.join(', ')}, last_used_at)
   WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.id = d.key_id)
  ON CONFLICT (key_id) DO UPDATE SET
    ${COLUMNS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(',\n    ')},
    last_used_at = GREATEST(u.last_used_at, EXCLUDED.last_used_at)`;

const MAX_ATTEMPTS = 3;

/**
 * Adds usage to each key's counters, atomically, in one statement. A delta for a key that has been
 * deleted is dropped without failing the rest; a key deleted while the statement ran (foreign-key
 * violation) or a deadlock with a concurrent batch makes it retry, up to 3 times.
 */
export function applyUsageDeltas(db: DbQuerier, deltas: readonly KeyUsageDelta[]): Promise<void> {
  return retryUsageWrite(() => upsertUsageDeltas(db, deltas));
}

/**
 * The increment statement alone, for callers that run it inside their own transaction (and then
 * retry the whole transaction through `retryUsageWrite`, since a failed statement aborts it).
 */
export async function upsertUsageDeltas(db: DbQuerier, deltas: readonly KeyUsageDelta[]): Promise<void> {
  const merged = mergeUsageDeltas(deltas);
  if (merged.length === 0) return;
  const params = [merged.map((d) => d.keyId), ...COUNTERS.map((c) => merged.map((d) => d[c])), merged.map((d) => d.lastUsedAt)];
  await db.query(UPSERT_SQL, params);
}

/** Runs a usage write again (up to 3 attempts in all) after a foreign-key violation or a deadlock. */
export async function retryUsageWrite<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const retryable = isDbErrorCode(err, PG_ERROR_CODES.foreignKeyViolation) || isDbErrorCode(err, PG_ERROR_CODES.deadlockDetected);
      if (!retryable || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/**
 * Folds deltas into one per key (a statement may touch each row only once), sorted by key id so
 * concurrent batches lock rows in the same order. Counters are clamped to non-negative integers.
 */
export function mergeUsageDeltas(deltas: readonly KeyUsageDelta[]): KeyUsageDelta[] {
  const byKey = new Map<string, KeyUsageDelta>();
  for (const delta of deltas) {
    const clean = sanitizeDelta(delta);
    const previous = byKey.get(delta.keyId);
    byKey.set(delta.keyId, previous ? addDeltas(previous, clean) : clean);
  }
  return [...byKey.values()].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}

const USAGE_SELECT = `
  SELECT key_id AS "keyId", requests, successes, images, input_tokens AS "inputTokens", output_tokens AS "outputTokens",
         total_tokens AS "totalTokens", usage_missing AS "usageMissing", estimated_cost_micros AS "estimatedCostMicros",
         last_used_at AS "lastUsedAt"
    FROM key_usage`;

/** Every key's stored usage (keys never used have no row). */
export function listKeyUsage(db: DbQuerier): Promise<KeyUsage[]> {
  return db.query<KeyUsage>(`${USAGE_SELECT} ORDER BY key_id`);
}

/** One key's stored usage, or null when it was never used. */
export async function findKeyUsage(db: DbQuerier, keyId: string): Promise<KeyUsage | null> {
  const [row] = await db.query<KeyUsage>(`${USAGE_SELECT} WHERE key_id = $1`, [keyId]);
  return row ?? null;
}

/** Usage of a key that has never been used. */
export function buildEmptyUsage(keyId: string): KeyUsage {
  return {
    keyId,
    requests: 0,
    successes: 0,
    images: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    usageMissing: 0,
    estimatedCostMicros: 0,
    lastUsedAt: null,
  };
}

function sanitizeDelta(delta: KeyUsageDelta): KeyUsageDelta {
  const clean = { ...delta, lastUsedAt: toCount(delta.lastUsedAt) };
  for (const counter of COUNTERS) clean[counter] = toCount(delta[counter]);
  return clean;
}

function addDeltas(a: KeyUsageDelta, b: KeyUsageDelta): KeyUsageDelta {
  const sum = { ...a, lastUsedAt: Math.max(a.lastUsedAt, b.lastUsedAt) };
  for (const counter of COUNTERS) sum[counter] = a[counter] + b[counter];
  return sum;
}

function toCount(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.trunc(value) : 0;
}
