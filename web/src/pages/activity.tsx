/** Activity: recent request-log lines (never prompts or images) with filters, live refresh and a per-request detail; async jobs below. */
import { useCallback, useState } from 'preact/hooks';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { api } from '../api.js';
import type { LogEvent, Sources } from '../types.js';
import { ErrorNote, Field, formatClock, SourcesNote, Section, useLoad, TableWrap } from '../ui.js';
import { JobsSection } from './activity-jobs.js';

const REFRESH_MS = 3_000;

type Filters = { key: string; account: string; status: string; error_class: string };

const isSuccess = (e: LogEvent) => e.upstream_status >= 200 && e.upstream_status < 300 && e.error_class === null;

function EventTable({ events, withLinks }: { events: LogEvent[]; withLinks: boolean }) {
  return (
    <TableWrap label="Request-log lines">
      <table>
        <thead>
          <tr>
            <th>Time</th>
            <th>Request</th>
            <th>Key</th>
            <th>Account</th>
            <th>Event</th>
            <th>Status</th>
            <th>Error class</th>
            <th>Duration</th>
            <th>Images</th>
            <th>Tokens</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr class={isSuccess(e) ? '' : 'row-bad'}>
              <td>{formatClock(e.ts)}</td>
              <td>{withLinks ? <a href={`#/activity/${encodeURIComponent(e.request_id)}`}>{e.request_id.slice(0, 12)}</a> : <code>{e.request_id}</code>}</td>
              <td>{e.key_name}</td>
              <td>{e.account_name ?? '—'}</td>
              <td>{e.event}</td>
              <td>{e.upstream_status}</td>
              <td>{e.error_class ?? '—'}</td>
              <td>{e.duration_ms} ms</td>
              <td>{e.response_image_count ?? '—'}</td>
              <td>{e.usage_tokens ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function RequestDetail({ requestId }: { requestId: string }) {
  const load = useCallback(async () => (await api.get<{ data: LogEvent[] }>(`/activity/${encodeURIComponent(requestId)}`)).data, [requestId]);
  const lines = useLoad(load);
  const first = lines.data?.[0];
  return (
    <>
      <h1>
        Request <code>{requestId}</code>
      </h1>
      <p>
        <a href="#/activity">← Back to Activity</a>
      </p>
      <ErrorNote message={lines.error} />
      {first ? (
        <Section title={`${lines.data!.length} line(s): attempts in order`}>
          <dl class="facts">
            <dt>Endpoint</dt>
            <dd>{first.endpoint}</dd>
            <dt>Model</dt>
            <dd>{first.model}</dd>
            <dt>Size / quality</dt>
            <dd>
              {first.size ?? 'auto'} / {first.quality ?? 'auto'}
            </dd>
            <dt>Images asked</dt>
            <dd>{first.n}</dd>
          </dl>
          <EventTable events={lines.data!} withLinks={false} />
        </Section>
      ) : null}
    </>
  );
}

/** The Activity page, or the detail of one request when `requestId` is given. */
export function ActivityPage({ requestId }: { requestId: string | null }) {
  const [filters, setFilters] = useState<Filters>({ key: '', account: '', status: '', error_class: '' });
  const [live, setLive] = useState(true);
  const load = useCallback(async () => {
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v.trim() !== ''));
    query.set('limit', String(FIELD_LIMITS.activityLimit.default));
    return api.get<{ data: LogEvent[] } & Sources>(`/activity?${query.toString()}`);
  }, [filters]);
  const events = useLoad(load, live && requestId === null ? REFRESH_MS : null);
  if (requestId !== null) return <RequestDetail requestId={requestId} />;
  const set = (name: keyof Filters) => (e: Event) => setFilters({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value });
  return (
    <>
      <h1>Activity</h1>
      <JobsSection pollMs={live ? REFRESH_MS : null} />
      <Section title="Request filters">
        <form class="form-grid filters" onSubmit={(e) => e.preventDefault()} aria-label="Activity filters">
          <Field label="Key" hint="name or id">
            <input name="key" value={filters.key} onChange={set('key')} />
          </Field>
          <Field label="Account">
            <input name="account" value={filters.account} onChange={set('account')} />
          </Field>
          <Field label="Status">
            <select name="status" value={filters.status} onChange={set('status')}>
              <option value="">any</option>
              <option value="success">success</option>
              <option value="failure">failure</option>
              <option value="403">403</option>
              <option value="429">429</option>
              <option value="502">502</option>
              <option value="503">503</option>
            </select>
          </Field>
          <Field label="Error class">
            <input name="error_class" value={filters.error_class} onChange={set('error_class')} />
          </Field>
          <label class="check">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Live (every {REFRESH_MS / 1000} s)
          </label>
        </form>
      </Section>
      <ErrorNote message={events.error} />
      <SourcesNote read={events.data} />
      {events.data?.data.length === 0 && events.data.sources > 0 ? <p>No recent requests match.</p> : null}
      {events.data && events.data.data.length > 0 ? <EventTable events={events.data.data} withLinks={true} /> : null}
    </>
  );
}
