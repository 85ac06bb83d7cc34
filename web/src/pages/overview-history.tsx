/**
 * The Overview's history: figures and charts of the last day, week or month from the persistent
 * usage rollups (`GET /admin/api/usage`), so a restart of the gateways does not empty them.
 */
import { useCallback, useState } from 'preact/hooks';
import { api } from '../api.js';
import { BarList } from '../charts.js';
import type { UsageReport } from '../types.js';
import { ErrorNote, Field, Section, useLoad } from '../ui.js';
import { RANGE_PRESETS, buildPresetRange, buildUsagePath, describeGroup, type RangePreset, type UsageMeasures, type UsageRange } from '../usage-data.js';
import { LatencyChart, SuccessRateChart, UsageStats, VolumeChart, buildTimeline } from './usage-timeline.js';

interface HistoryView {
  range: UsageRange;
  /** `by=<bucket>`: totals and the per-bucket charts. */
  timeline: UsageReport;
  /** `by=account`: requests per account. */
  accounts: UsageReport;
}

async function loadHistory(preset: RangePreset): Promise<HistoryView> {
  const range = buildPresetRange(preset, Date.now());
  const [timeline, accounts] = await Promise.all([
    api.get<UsageReport>(buildUsagePath(range, [range.bucket])),
    api.get<UsageReport>(buildUsagePath(range, ['account'])),
  ]);
  return { range, timeline, accounts };
}

/** The failure classes of the rollups, as the Failures chart names them. */
const FAILURE_CLASSES = {
  failures_rate_limited: 'rate limited',
  failures_client: 'client error',
  failures_upstream: 'upstream error',
  failures_aborted: 'aborted',
} as const satisfies Partial<Record<keyof UsageMeasures, string>>;

function buildFailureBars(totals: UsageMeasures): Array<{ label: string; value: number }> {
  return Object.entries(FAILURE_CLASSES)
    .map(([measure, label]) => ({ label, value: totals[measure as keyof typeof FAILURE_CLASSES] }))
    .filter((bar) => bar.value > 0)
    .sort((a, b) => b.value - a.value);
}

function HistoryCharts({ view }: { view: HistoryView }) {
  const timeline = buildTimeline(view.timeline.rows, view.range);
  const accounts = [...view.accounts.rows].sort((a, b) => b.requests - a.requests);
  return (
    <>
      <UsageStats totals={view.timeline.totals} label="History totals" />
      <div class="charts">
        <VolumeChart timeline={timeline} />
        <SuccessRateChart timeline={timeline} />
        <LatencyChart timeline={timeline} />
        <BarList title="Failures by class" rows={buildFailureBars(view.timeline.totals)} empty="No failures in this range." />
        <BarList
          title="Requests by account"
          empty="No requests in this range."
          rows={accounts.map((r) => ({ label: describeGroup(r, 'account'), value: r.requests, note: r.images > 0 ? ` (${r.images} images)` : '' }))}
        />
      </div>
    </>
  );
}

/** The history section of the Overview (reloads every minute). */
export function OverviewHistory() {
  const [preset, setPreset] = useState<RangePreset>('24h');
  const load = useCallback(() => loadHistory(preset), [preset]);
  const history = useLoad(load, 60_000);
  return (
    <Section title="History">
      <form class="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="History range">
        <Field label="Range">
          <select name="range" value={preset} onChange={(e) => setPreset(e.currentTarget.value as RangePreset)}>
            {Object.entries(RANGE_PRESETS).map(([value, p]) => (
              <option value={value}>{p.label}</option>
            ))}
          </select>
        </Field>
      </form>
      <p class="muted">From the usage history kept in the database: it survives restarts (see Usage for more).</p>
      <ErrorNote message={history.error} />
      {history.data ? <HistoryCharts view={history.data} /> : null}
    </Section>
  );
}
