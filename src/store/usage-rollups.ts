import type { KeyUsageDelta, UsageFailureClass, UsageRollupDelta, UsageRollupFacts } from './types.js';

/**
 * Upper bounds (ms) of the latency histogram every rollup row keeps, one column each plus one for
 * slower requests. Image requests take from under a second (rejections) to minutes, so the bounds
 * grow roughly geometrically; p50/p95 read from them are exact to the bucket. Append-only in
 * practice: the columns are in the schema (migration 0010).
 */
export const USAGE_LATENCY_BUCKETS_MS = [
  100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 45_000, 60_000, 90_000, 120_000, 180_000, 300_000,
] as const;

/** Elements of `UsageRollupDelta.latencyBuckets`: one per bound, one above them all. */
export const USAGE_LATENCY_BUCKET_COUNT = USAGE_LATENCY_BUCKETS_MS.length + 1;

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Longest model name a rollup row keeps (it may come from a client); the schema checks the same. */
export const MAX_ROLLUP_MODEL_CHARS = 64;

/** Start of the UTC hour (ms) that holds `ms`. */
export const buildHourStart = (ms: number): number => ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS);

/** Start of the UTC day (ms) that holds `ms`. */
export const buildDayStart = (ms: number): number => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);

/** The rollups' failure class of a request that did not succeed, from the status the client got (see UsageFailureClass). */
export function classifyUsageFailure(status: number): UsageFailureClass {
  if (status === 499) return 'aborted';
  if (status === 429) return 'rate_limited';
  if (status >= 400 && status < 500) return 'client';
  return 'upstream';
}

/** Index in `latencyBuckets` of a latency (ms); negative or NaN latencies count in the first bucket. */
export function findLatencyBucket(latencyMs: number): number {
  for (let i = 0; i < USAGE_LATENCY_BUCKETS_MS.length; i++) if (!(latencyMs > USAGE_LATENCY_BUCKETS_MS[i]!)) return i;
  return USAGE_LATENCY_BUCKETS_MS.length;
}

/**
 * The latency (ms) below which a fraction `q` (0..1) of a histogram's requests fall, interpolated
 * linearly inside the bucket that holds it (as Prometheus' histogram_quantile does): exact to the
 * bucket, smooth enough for charts. Requests above the last bound count at that bound. Null for an
 * empty histogram.
 */
export function estimateLatencyQuantile(latencyBuckets: readonly number[], q: number): number | null {
  const total = latencyBuckets.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < USAGE_LATENCY_BUCKETS_MS.length; i++) {
    const inBucket = latencyBuckets[i] ?? 0;
    if (inBucket > 0 && below + inBucket >= rank) {
      const lower = i === 0 ? 0 : USAGE_LATENCY_BUCKETS_MS[i - 1]!;
      return Math.round(lower + (USAGE_LATENCY_BUCKETS_MS[i]! - lower) * ((rank - below) / inBucket));
    }
    below += inBucket;
  }
  return USAGE_LATENCY_BUCKETS_MS.at(-1)!;
}

/**
 * Sums requests into rollup rows, one per (hour, key, account, model, endpoint), in memory: the
 * batch a usage flush writes with its key counters. Owns its rows; `rows()` hands out copies.
 */
export class UsageRollupAccumulator {
  // Nested maps (hour → key → account → model → endpoint → row) rather than one map on a joined
  // string id: building and hashing that string per request cost ~0.4 µs, these lookups hit the
  // hashes V8 caches on strings it already has.
  private readonly tree: RollupLevel = new Map();
  private readonly all: UsageRollupDelta[] = [];

  /** Rows held. */
  get size(): number {
    return this.all.length;
  }

  /**
   * Adds one request: its key counters' delta and its rollup facts. The row's invariants (successes
   * plus failures = requests = the histogram's sum, the bucket on an hour) hold whatever the input,
   * since the schema checks them and a replayed journal line that broke one would fail every retry.
   */
  add(delta: KeyUsageDelta, facts: UsageRollupFacts): void {
    const row = this.rowFor(buildHourStart(facts.hourStart), delta.keyId, facts);
    const successes = Math.min(delta.successes, delta.requests);
    const failures = delta.requests - successes;
    row.requests += delta.requests;
    row.successes += successes;
    if (failures > 0) row[FAILURE_MEASURES[facts.failureClass ?? 'upstream']] += failures;
    row.images += delta.images;
    row.inputTokens += delta.inputTokens;
    row.imageInputTokens += Math.min(toCount(facts.imageInputTokens), delta.inputTokens);
    row.outputTokens += delta.outputTokens;
    row.totalTokens += delta.totalTokens;
    row.usageMissing += delta.usageMissing;
    row.estimatedCostMicros += delta.estimatedCostMicros;
    if (facts.unpriced) row.unpricedRequests += delta.requests;
    row.upstreamBytes += toCount(facts.upstreamBytes);
    const latencyMs = toCount(facts.latencyMs);
    row.latencyMsSum += latencyMs;
    row.latencyBuckets[findLatencyBucket(latencyMs)]! += delta.requests;
  }

  /** Adds a whole row (a batch whose write failed goes back in, to be written with the next). */
  addRow(source: UsageRollupDelta): void {
    const row = this.rowFor(source.bucketStart, source.keyId, source);
    for (const field of ROLLUP_MEASURES) row[field] += source[field];
    source.latencyBuckets.forEach((n, i) => {
      row.latencyBuckets[i]! += n;
    });
  }

  /** The rows, sorted by their dimensions (concurrent writers then lock rows in the same order). */
  rows(): UsageRollupDelta[] {
    return [...this.all].sort(compareDimensions).map((row) => ({ ...row, latencyBuckets: [...row.latencyBuckets] }));
  }

  private rowFor(bucketStart: number, keyId: string, dims: { accountId: string | null; model: string; endpoint: string }): UsageRollupDelta {
    const model = dims.model.length > MAX_ROLLUP_MODEL_CHARS ? dims.model.slice(0, MAX_ROLLUP_MODEL_CHARS) : dims.model;
    const byEndpoint = selectLevel(selectLevel(selectLevel(selectLevel(this.tree, bucketStart), keyId), dims.accountId ?? ''), model);
    let row = byEndpoint.get(dims.endpoint) as UsageRollupDelta | undefined;
    if (!row) {
      row = buildEmptyRollup({ bucketStart, keyId, accountId: dims.accountId, model, endpoint: dims.endpoint });
      byEndpoint.set(dims.endpoint, row);
      this.all.push(row);
    }
    return row;
  }
}

/** One level of the accumulator's tree: a dimension's value → the next level (or, last, the row). */
type RollupLevel = Map<number | string, unknown>;

function selectLevel(level: RollupLevel, value: number | string): RollupLevel {
  let next = level.get(value) as RollupLevel | undefined;
  if (!next) {
    next = new Map();
    level.set(value, next);
  }
  return next;
}

/** The measure each failure class counts in. */
const FAILURE_MEASURES = {
  rate_limited: 'failuresRateLimited',
  client: 'failuresClient',
  upstream: 'failuresUpstream',
  aborted: 'failuresAborted',
} as const satisfies Record<UsageFailureClass, keyof UsageRollupDelta>;

/** The numeric measures of a rollup row besides the histogram, in column order. */
export const ROLLUP_MEASURES = [
  'requests',
  'successes',
  'failuresRateLimited',
  'failuresClient',
  'failuresUpstream',
  'failuresAborted',
  'images',
  'inputTokens',
  'imageInputTokens',
  'outputTokens',
  'totalTokens',
  'usageMissing',
  'estimatedCostMicros',
  'unpricedRequests',
  'upstreamBytes',
  'latencyMsSum',
] as const satisfies ReadonlyArray<keyof UsageRollupDelta>;

/** Orders rows by bucket, key, account (none first), model, endpoint. */
function compareDimensions(a: UsageRollupDelta, b: UsageRollupDelta): number {
  if (a.bucketStart !== b.bucketStart) return a.bucketStart - b.bucketStart;
  return (
    compareText(a.keyId, b.keyId) || compareText(a.accountId ?? '', b.accountId ?? '') || compareText(a.model, b.model) || compareText(a.endpoint, b.endpoint)
  );
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type RollupDimensions = Pick<UsageRollupDelta, 'bucketStart' | 'keyId' | 'accountId' | 'model' | 'endpoint'>;

/** Every field written out: a spread followed by more fields leaves V8 a slow dictionary-mode object, and add() touches each row per request. */
function buildEmptyRollup(dims: RollupDimensions): UsageRollupDelta {
  return {
    bucketStart: dims.bucketStart,
    keyId: dims.keyId,
    accountId: dims.accountId,
    model: dims.model,
    endpoint: dims.endpoint,
    requests: 0,
    successes: 0,
    failuresRateLimited: 0,
    failuresClient: 0,
    failuresUpstream: 0,
    failuresAborted: 0,
    images: 0,
    inputTokens: 0,
    imageInputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    usageMissing: 0,
    estimatedCostMicros: 0,
    unpricedRequests: 0,
    upstreamBytes: 0,
    latencyMsSum: 0,
    latencyBuckets: new Array<number>(USAGE_LATENCY_BUCKET_COUNT).fill(0),
  };
}

function toCount(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
