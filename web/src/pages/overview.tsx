/**
 * Overview: the page an operator opens first. Its history (figures, volume, success rate, latency,
 * failures, accounts) comes from the persistent usage rollups; its live part, the last minutes per
 * minute and each account's upstream attempts, from the gateways' recent request-log lines.
 */
import { useCallback, useState } from 'preact/hooks';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { api } from '../api.js';
import { BarList, LineChart } from '../charts.js';
import type { Overview, Sources } from '../types.js';
import { ErrorNote, Field, Section, SourcesNote, useLoad } from '../ui.js';
import { OverviewHistory } from './overview-history.js';

const WINDOWS = [15, 60, 180, 720] as const;

function LiveCharts({ o }: { o: Overview }) {
  const labels = o.series.map((m) => new Date(m.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  return (
    <div class="charts">
      <LineChart
        title="Requests and images per minute"
        labels={labels}
        series={[
          { label: 'requests', className: 's1', values: o.series.map((m) => m.requests) },
          { label: 'images', className: 's2', values: o.series.map((m) => m.images) },
        ]}
      />
      <BarList
        title="Per-account load (upstream attempts)"
        empty="No upstream attempts in this window."
        rows={o.accounts.map((a) => ({ label: a.account, value: a.attempts, note: a.failures > 0 ? ` (${a.failures} failed)` : '' }))}
      />
    </div>
  );
}

/** The live section (refreshes every 10 s). */
function OverviewLive() {
  const [minutes, setMinutes] = useState<number>(FIELD_LIMITS.overviewMinutes.default);
  const load = useCallback(() => api.get<Overview & Sources>(`/overview?minutes=${minutes}`), [minutes]);
  const overview = useLoad(load, 10_000);
  return (
    <Section title="Live">
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
      {overview.data ? <LiveCharts o={overview.data} /> : null}
    </Section>
  );
}

/** The Overview page: history first, then the live minutes. */
export function OverviewPage() {
  return (
    <>
      <h1>Overview</h1>
      <OverviewHistory />
      <OverviewLive />
    </>
  );
}
