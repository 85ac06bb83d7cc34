/**
 * Usage: the persistent usage history of a range, from the rollups (`GET /admin/api/usage`): figures,
 * images and requests stacked by key or by account, success rate and latency over time, the top
 * keys, and CSV downloads of the same rows.
 */
import { useCallback, useState } from 'preact/hooks';
import { api, buildApiUrl } from '../api.js';
import { StackedBarChart, type Stack } from '../charts.js';
import type { UsageReport } from '../types.js';
import { ErrorNote, Section, formatTime, useLoad } from '../ui.js';
import { buildStacks, buildUsagePath, listBuckets, type StackMeasure, type UsageGroup, type UsageRange } from '../usage-data.js';
import { GroupToggle, RangePicker, resolveRange, type RangeChoice } from './usage-range.js';
import { LatencyChart, SuccessRateChart, UsageStats, buildTimeline, describeBucket, type Timeline } from './usage-timeline.js';
import { TopKeysTable } from './usage-top-keys.js';

/** What one load of the page read: the range it asked for and three reports of it. */
interface UsageView {
  range: UsageRange;
  group: UsageGroup;
  /** `by=<bucket>,<group>`: the stacked charts (and their CSV). */
  split: UsageReport;
  /** `by=<bucket>`: totals, success rate and latency per bucket. */
  timeline: UsageReport;
  /** `by=key`: the top keys table (and its CSV). */
  keys: UsageReport;
}

async function loadUsage(choice: RangeChoice, group: UsageGroup): Promise<UsageView> {
  const range = resolveRange(choice, Date.now());
  const [split, timeline, keys] = await Promise.all([
    api.get<UsageReport>(buildUsagePath(range, [range.bucket, group])),
    api.get<UsageReport>(buildUsagePath(range, [range.bucket])),
    api.get<UsageReport>(buildUsagePath(range, ['key'])),
  ]);
  return { range, group, split, timeline, keys };
}

/** Stack colours: the largest groups first, `other` (the last stack, when there is one) grey. */
const STACK_CLASSES = ['s1', 's2', 's3', 's4', 's5', 's6'] as const;

function buildChartStacks(view: UsageView, measure: StackMeasure): Stack[] {
  const stacks = buildStacks(view.split.rows, { buckets: listBuckets(view.range), group: view.group, measure });
  return stacks.map((s, i) => ({ label: s.label, className: STACK_CLASSES[i] ?? 's6', values: s.values, total: s.total }));
}

function StackedCharts({ view, timeline }: { view: UsageView; timeline: Timeline }) {
  const by = `by ${view.group}`;
  const empty = 'No requests in this range.';
  return (
    <div class="charts">
      <StackedBarChart title={`Images ${describeBucket(view.range)} ${by}`} labels={timeline.labels} stacks={buildChartStacks(view, 'images')} empty={empty} />
      <StackedBarChart
        title={`Requests ${describeBucket(view.range)} ${by}`}
        labels={timeline.labels}
        stacks={buildChartStacks(view, 'requests')}
        empty={empty}
      />
      <SuccessRateChart timeline={timeline} />
      <LatencyChart timeline={timeline} />
    </div>
  );
}

/** The CSV of each table the page shows: the same query, answered by the API as an attachment. */
function Downloads({ view }: { view: UsageView }) {
  const split = [view.range.bucket, view.group];
  return (
    <p class="downloads">
      <a href={buildApiUrl(buildUsagePath(view.range, split, 'csv'))} download>
        Download CSV ({view.range.bucket} × {view.group})
      </a>
      <a href={buildApiUrl(buildUsagePath(view.range, ['key'], 'csv'))} download>
        Download CSV (keys)
      </a>
    </p>
  );
}

function UsageBody({ view }: { view: UsageView }) {
  const timeline = buildTimeline(view.timeline.rows, view.range);
  return (
    <>
      <p class="muted" data-testid="usage-range">
        {formatTime(view.range.sinceMs)} – {formatTime(view.range.untilMs)}
      </p>
      <UsageStats totals={view.timeline.totals} label="Range totals" />
      <StackedCharts view={view} timeline={timeline} />
      <Downloads view={view} />
      <Section title="Top keys">
        <TopKeysTable report={view.keys} />
      </Section>
    </>
  );
}

/** The Usage page (reloads every minute, so the last bucket fills up). */
export function UsagePage() {
  const [choice, setChoice] = useState<RangeChoice>({ kind: 'preset', preset: '24h' });
  const [group, setGroup] = useState<UsageGroup>('key');
  const load = useCallback(() => loadUsage(choice, group), [choice, group]);
  const usage = useLoad(load, 60_000);
  return (
    <>
      <h1>Usage</h1>
      <div class="toolbar">
        <RangePicker choice={choice} onChange={setChoice} />
        <GroupToggle group={group} onChange={setGroup} />
      </div>
      <p class="muted">
        From the usage history kept in the database (hourly, then daily): it survives restarts. Counts and tokens only, never prompts or images.
      </p>
      <ErrorNote message={usage.error} />
      {usage.data ? <UsageBody view={usage.data} /> : null}
    </>
  );
}
