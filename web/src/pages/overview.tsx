/** Overview: the charts an operator opens first, from the gateways' recent request-log lines. */
import { useCallback, useState } from 'preact/hooks';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { api } from '../api.js';
import { BarList, LineChart } from '../charts.js';
import type { Overview, Sources } from '../types.js';
import { ErrorNote, Field, SourcesNote, formatCount, useLoad } from '../ui.js';

const WINDOWS = [15, 60, 180, 720] as const;

function sumFailuresByClass(o: Overview): Array<{ label: string; value: number }> {
  const totals = new Map<string, number>();
  for (const m of o.series) for (const [cls, n] of Object.entries(m.failures_by_class)) totals.set(cls, (totals.get(cls) ?? 0) + n);
  return [...totals].map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value);
}

function Charts({ o }: { o: Overview }) {
  const labels = o.series.map((m) => new Date(m.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  const rate = o.series.map((m) => (m.requests === 0 ? null : Math.round((m.successes / m.requests) * 100)));
  const successRate = o.totals.requests === 0 ? '—' : `${Math.round((o.totals.successes / o.totals.requests) * 100)} %`;
  return (
    <>
      <div class="stats">
        <div class="stat">
          <span class="stat-value">{formatCount(o.totals.requests)}</span>
          <span>requests</span>
        </div>
        <div class="stat">
          <span class="stat-value">{formatCount(o.totals.images)}</span>
          <span>images</span>
        </div>
        <div class="stat">
          <span class="stat-value">{successRate}</span>
          <span>success rate</span>
        </div>
        <div class="stat">
          <span class="stat-value">{formatCount(o.totals.failures)}</span>
          <span>failures</span>
        </div>
      </div>
      <div class="charts">
        <LineChart
          title="Requests and images per minute"
          labels={labels}
          series={[
            { label: 'requests', className: 's1', values: o.series.map((m) => m.requests) },
            { label: 'images', className: 's2', values: o.series.map((m) => m.images) },
          ]}
        />
        <LineChart title="Success rate (%)" labels={labels} fixedMax={100} unit="%" series={[{ label: 'success rate', className: 's3', values: rate }]} />
        <LineChart
          title="Latency (ms)"
          labels={labels}
          unit=" ms"
          series={[
            { label: 'p50', className: 's1', values: o.series.map((m) => m.latency_p50_ms) },
            { label: 'p95', className: 's4', values: o.series.map((m) => m.latency_p95_ms) },
          ]}
        />
        <BarList title="Failures by class" rows={sumFailuresByClass(o)} empty="No failures in this window." />
        <BarList
          title="Per-account load (upstream attempts)"
          empty="No upstream attempts in this window."
          rows={o.accounts.map((a) => ({ label: a.account, value: a.attempts, note: a.failures > 0 ? ` (${a.failures} failed)` : '' }))}
        />
      </div>
    </>
  );
}

/** The Overview page (refreshes every 10 s). */
export function OverviewPage() {
  const [minutes, setMinutes] = useState<number>(FIELD_LIMITS.overviewMinutes.default);
  const load = useCallback(() => api.get<Overview & Sources>(`/overview?minutes=${minutes}`), [minutes]);
  const overview = useLoad(load, 10_000);
  return (
    <>
      <h1>Overview</h1>
      <form class="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="Overview window">
        <Field label="Window">
          <select name="minutes" value={String(minutes)} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
            {WINDOWS.map((w) => (
              <option value={String(w)}>last {w >= 60 ? `${w / 60} h` : `${w} min`}</option>
            ))}
          </select>
        </Field>
      </form>
      <p class="muted">From the gateways' recent request-log lines kept in memory (the last 2,000 per gateway; a restart empties them).</p>
      <ErrorNote message={overview.error} />
      <SourcesNote read={overview.data} />
      {overview.data ? <Charts o={overview.data} /> : null}
    </>
  );
}
