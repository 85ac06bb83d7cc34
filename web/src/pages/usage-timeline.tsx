/**
 * Pieces the Usage page and the Overview's history share, drawn from usage reports: the figures of a
 * range, and the per-bucket charts of a `by=<bucket>` report (volume, success rate, latency).
 */
import { formatUsdMicros } from '../../../src/pricing/format-usd.js';
import { LineChart } from '../charts.js';
import type { UsageRow } from '../types.js';
import { formatCount } from '../ui.js';
import { alignTimeline, computeSuccessPercent, formatBucket, listBuckets, type UsageMeasures, type UsageRange } from '../usage-data.js';

/** A `by=<bucket>` report laid on every bucket of its range, with the axis labels. */
export interface Timeline {
  range: UsageRange;
  labels: string[];
  rows: Array<UsageRow | null>;
}

/** The timeline of a `by=<bucket>` report's rows over `range`. */
export function buildTimeline(rows: readonly UsageRow[], range: UsageRange): Timeline {
  const buckets = listBuckets(range);
  return { range, labels: buckets.map((b) => formatBucket(b, range.bucket)), rows: alignTimeline(rows, buckets) };
}

/** "per hour" or "per day", for chart titles. */
export const describeBucket = (range: UsageRange): string => `per ${range.bucket}`;

function Stat({ value, label }: { value: string; label: string }) {
  return (
    <div class="stat">
      <span class="stat-value">{value}</span>
      <span>{label}</span>
    </div>
  );
}

/** A range's headline figures, the estimated cost labelled as such. */
export function UsageStats({ totals, label }: { totals: UsageMeasures; label: string }) {
  const rate = computeSuccessPercent(totals);
  const failures = totals.requests - totals.successes;
  const ms = (v: number | null) => (v === null ? '—' : `${formatCount(Math.round(v))} ms`);
  return (
    <section class="stats" aria-label={label}>
      <Stat value={formatCount(totals.requests)} label="requests" />
      <Stat value={formatCount(totals.images)} label="images" />
      <Stat value={rate === null ? '—' : `${rate} %`} label="success rate" />
      <Stat value={formatCount(failures)} label="failures" />
      <Stat value={ms(totals.latency_p50_ms)} label="latency p50" />
      <Stat value={ms(totals.latency_p95_ms)} label="latency p95" />
      <Stat value={formatUsdMicros(totals.estimated_cost_micros)} label="est. cost" />
    </section>
  );
}

/** Requests and images per bucket, as two lines. */
export function VolumeChart({ timeline }: { timeline: Timeline }) {
  const read = (measure: 'requests' | 'images') => timeline.rows.map((r) => r?.[measure] ?? 0);
  return (
    <LineChart
      title={`Requests and images ${describeBucket(timeline.range)}`}
      labels={timeline.labels}
      series={[
        { label: 'requests', className: 's1', values: read('requests') },
        { label: 'images', className: 's2', values: read('images') },
      ]}
    />
  );
}

/** The share of requests that succeeded, per bucket (a gap where there were none). */
export function SuccessRateChart({ timeline }: { timeline: Timeline }) {
  const values = timeline.rows.map((r) => (r === null ? null : computeSuccessPercent(r)));
  return (
    <LineChart
      title={`Success rate ${describeBucket(timeline.range)} (%)`}
      labels={timeline.labels}
      fixedMax={100}
      unit="%"
      series={[{ label: 'success rate', className: 's3', values }]}
    />
  );
}

/** p50 and p95 latency per bucket, from the rollups' histograms. */
export function LatencyChart({ timeline }: { timeline: Timeline }) {
  const read = (q: 'latency_p50_ms' | 'latency_p95_ms') =>
    timeline.rows.map((r) => {
      const ms = r === null ? null : r[q];
      return ms === null ? null : Math.round(ms);
    });
  return (
    <LineChart
      title={`Latency ${describeBucket(timeline.range)} (ms)`}
      labels={timeline.labels}
      unit=" ms"
      series={[
        { label: 'p50', className: 's1', values: read('latency_p50_ms') },
        { label: 'p95', className: 's4', values: read('latency_p95_ms') },
      ]}
    />
  );
}
