/**
 * What the Usage page, the Overview's history and the sparklines ask of the usage report API, and
 * how its rows become chart series. Pure functions of the report and the clock: no DOM, no fetch.
 */
import type { UsageReport, UsageRow } from './types.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A time bucket of the charts: the report's `hour` or `day` grouping (UTC hours and days). */
export type UsageBucket = 'hour' | 'day';

/** What the stacked charts split their bars by. */
export type UsageGroup = 'key' | 'account';

/** A report's time range, [sinceMs, untilMs), and the bucket its charts use. */
export interface UsageRange {
  sinceMs: number;
  untilMs: number;
  bucket: UsageBucket;
}

const BUCKET_MS = { hour: HOUR_MS, day: DAY_MS } as const satisfies Record<UsageBucket, number>;

/** The ranges offered ready-made: the last `count` buckets, the current one included. */
export const RANGE_PRESETS = {
  '24h': { label: 'Last 24 h', bucket: 'hour', count: 24 },
  '7d': { label: 'Last 7 d', bucket: 'day', count: 7 },
  '30d': { label: 'Last 30 d', bucket: 'day', count: 30 },
} as const satisfies Record<string, { label: string; bucket: UsageBucket; count: number }>;
export type RangePreset = keyof typeof RANGE_PRESETS;

/** A custom range up to this long is charted in hours, a longer one in days. */
const MAX_HOURLY_RANGE_MS = 2 * DAY_MS;

/** The latest custom range the page accepts (the rollups keep daily rows 800 days by default). */
const MAX_CUSTOM_RANGE_MS = 1_000 * DAY_MS;

/** Start of the UTC hour or day holding `ms`. */
export const buildBucketStart = (ms: number, bucket: UsageBucket): number => ms - (ms % BUCKET_MS[bucket]);

/**
 * A preset's range: whole buckets, so the oldest one is not cut (the API counts a row when its hour
 * starts in the range), ending now.
 */
export function buildPresetRange(preset: RangePreset, nowMs: number): UsageRange {
  const { bucket, count } = RANGE_PRESETS[preset];
  return { sinceMs: buildBucketStart(nowMs, bucket) - (count - 1) * BUCKET_MS[bucket], untilMs: nowMs, bucket };
}

/**
 * A custom range from two UTC dates (`YYYY-MM-DD`, as a date input gives them), both days included.
 * @throws Error naming the bad field: the API would refuse the same range
 */
export function parseCustomRange(sinceDate: string, untilDate: string): UsageRange {
  const sinceMs = Date.parse(`${sinceDate}T00:00:00Z`);
  const untilDay = Date.parse(`${untilDate}T00:00:00Z`);
  if (!Number.isFinite(sinceMs)) throw new Error('since must be a date');
  if (!Number.isFinite(untilDay)) throw new Error('until must be a date');
  const untilMs = untilDay + DAY_MS;
  if (untilMs <= sinceMs) throw new Error('until must not be before since');
  if (untilMs - sinceMs > MAX_CUSTOM_RANGE_MS) throw new Error(`a range covers at most ${MAX_CUSTOM_RANGE_MS / DAY_MS} days`);
  return { sinceMs, untilMs, bucket: untilMs - sinceMs <= MAX_HOURLY_RANGE_MS ? 'hour' : 'day' };
}

/** The report path of a range grouped by `by` (one or two groupings), as JSON or as a CSV download. */
export function buildUsagePath(range: Pick<UsageRange, 'sinceMs' | 'untilMs'>, by: readonly string[], format: 'json' | 'csv' = 'json'): string {
  const query = new URLSearchParams({ since: String(range.sinceMs), until: String(range.untilMs), by: by.join(',') });
  if (format === 'csv') query.set('format', 'csv');
  return `/usage?${query}`;
}

/** Every bucket start of a range, oldest first (buckets without usage are charted as zero). */
export function listBuckets(range: UsageRange): number[] {
  const step = BUCKET_MS[range.bucket];
  const buckets: number[] = [];
  for (let t = buildBucketStart(range.sinceMs, range.bucket); t < range.untilMs; t += step) buckets.push(t);
  return buckets;
}

/** A row's time bucket (its `hour` or `day`), or null when the report was not grouped by time. */
const readBucket = (row: UsageRow): number | null => row.hour ?? row.day ?? null;

/** A row's group id: its key or account id; `''` for the requests no account answered. */
export const readGroupId = (row: UsageRow, group: UsageGroup): string => (group === 'key' ? (row.key ?? '') : (row.account ?? ''));

/** How a row's key or account is shown: its name; its id once deleted; `no account` for requests none answered. */
export function describeGroup(row: UsageRow, group: UsageGroup): string {
  if (group === 'key') return row.key_name ?? `${row.key ?? '?'} (deleted)`;
  if (row.account === null || row.account === undefined) return 'no account';
  return row.account_name ?? `${row.account} (deleted)`;
}

/** A measure the stacked charts draw. */
export type StackMeasure = 'images' | 'requests';

/** One stack of a stacked chart: a group's values per bucket, and the group's total. */
export interface StackSeries {
  id: string;
  label: string;
  values: number[];
  total: number;
}

/** Groups past this many are summed into one `other` stack, so the colours stay few and tellable. */
export const MAX_STACKS = 5;

/**
 * A `by=<bucket>,<group>` report as stacks of `measure` over `buckets`: the MAX_STACKS groups that
 * sent the most requests (then made the most images), in that order, then `other` for the rest
 * (absent when there is no rest). The order does not depend on `measure`, so a group keeps its
 * place and colour in the images chart and in the requests chart.
 */
export function buildStacks(rows: readonly UsageRow[], opts: { buckets: readonly number[]; group: UsageGroup; measure: StackMeasure }): StackSeries[] {
  const index = new Map(opts.buckets.map((b, i) => [b, i]));
  const byGroup = new Map<string, { series: StackSeries; requests: number; images: number }>();
  for (const row of rows) {
    const at = index.get(readBucket(row) ?? Number.NaN);
    if (at === undefined) continue;
    const id = readGroupId(row, opts.group);
    const entry = byGroup.get(id) ?? {
      series: { id, label: describeGroup(row, opts.group), values: opts.buckets.map(() => 0), total: 0 },
      requests: 0,
      images: 0,
    };
    entry.series.values[at] = (entry.series.values[at] ?? 0) + row[opts.measure];
    entry.series.total += row[opts.measure];
    entry.requests += row.requests;
    entry.images += row.images;
    byGroup.set(id, entry);
  }
  const ranked = [...byGroup.values()]
    .filter((e) => e.requests + e.images > 0)
    .sort((a, b) => b.requests - a.requests || b.images - a.images || a.series.label.localeCompare(b.series.label))
    .map((e) => e.series);
  const rest = ranked.slice(MAX_STACKS);
  if (rest.length === 0) return ranked;
  const other = {
    id: '(other)',
    label: `other (${rest.length})`,
    values: opts.buckets.map((_, i) => rest.reduce((n, s) => n + (s.values[i] ?? 0), 0)),
    total: 0,
  };
  other.total = other.values.reduce((a, b) => a + b, 0);
  return [...ranked.slice(0, MAX_STACKS), other];
}

/** A `by=<bucket>` report's rows placed on `buckets`; a bucket without usage is null. */
export function alignTimeline(rows: readonly UsageRow[], buckets: readonly number[]): Array<UsageRow | null> {
  const byBucket = new Map(rows.map((r) => [readBucket(r), r]));
  return buckets.map((b) => byBucket.get(b) ?? null);
}

/** Successes per request as a whole percentage; null without requests. */
export const computeSuccessPercent = (m: { requests: number; successes: number }): number | null =>
  m.requests === 0 ? null : Math.round((m.successes / m.requests) * 100);

/** The figures a report gives in full: `totals`, or a row. */
export type UsageMeasures = UsageReport['totals'];

/** A bucket's label on a chart axis: a local clock time for hours, the UTC date for days. */
export function formatBucket(ms: number, bucket: UsageBucket): string {
  if (bucket === 'hour') return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return new Date(ms).toLocaleDateString([], { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** A date input's value (`YYYY-MM-DD`, UTC) for an instant. */
export const formatDateInput = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
