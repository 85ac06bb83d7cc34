/** Async jobs on the Activity page: recent jobs with key, status, timings and error code (never a result), and Cancel for open ones. */
import { useCallback, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import type { Job } from '../types.js';
import { ErrorNote, Field, Section, formatClock, useLoad, TableWrap } from '../ui.js';

/** Every status, each once (the type makes a new server status break this build). */
const STATUS_CHOICES = { queued: true, running: true, succeeded: true, failed: true, cancelled: true, expired: true } as const satisfies Record<
  Job['status'],
  true
>;
/** Characters of the id hash shown (the CLI's `jobs show` takes this many). */
const SHORT_ID_CHARS = 12;
const LIST_LIMIT = 100;

const isOpen = (j: Job) => j.status === 'queued' || j.status === 'running';
const isBad = (j: Job) => j.status === 'failed' || j.status === 'cancelled';

/** Seconds between two times, or since `from` while the job is still at that stage. */
function formatSpan(from: number | null, to: number | null, open: boolean): string {
  if (from === null) return '—';
  const end = to ?? (open ? Date.now() : null);
  return end === null ? '—' : `${((end - from) / 1000).toFixed(1)} s`;
}

function JobRow({ job, onCancel }: { job: Job; onCancel: (job: Job) => void }) {
  const short = job.id.slice(0, SHORT_ID_CHARS);
  return (
    <tr class={isBad(job) ? 'row-bad' : ''}>
      <td>{formatClock(job.created_at)}</td>
      <td>
        <code title={job.id}>{short}</code>
      </td>
      <td>
        <span class="actions">
          {job.status}
          {isOpen(job) && job.cancel_requested ? ' (cancelling…)' : ''}
          {isOpen(job) && !job.cancel_requested ? (
            <button type="button" class="danger" aria-label={`Cancel job ${short}`} onClick={() => onCancel(job)}>
              Cancel
            </button>
          ) : null}
        </span>
      </td>
      <td>{job.key_name ?? job.key_id}</td>
      <td>{job.endpoint}</td>
      <td>
        {job.error_code ?? '—'}
        {job.http_status === null ? '' : ` (${job.http_status})`}
      </td>
      <td>{formatSpan(job.created_at, job.started_at, job.status === 'queued')}</td>
      <td>{formatSpan(job.started_at, job.finished_at, job.status === 'running')}</td>
    </tr>
  );
}

/** The Async jobs section: refreshed every `pollMs` (the page's Live switch) and after a cancel. */
export function JobsSection({ pollMs }: { pollMs: number | null }) {
  const [filters, setFilters] = useState({ key: '', status: '' });
  const [actionError, setActionError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v.trim() !== ''));
    query.set('limit', String(LIST_LIMIT));
    return (await api.get<{ data: Job[] }>(`/jobs?${query.toString()}`)).data;
  }, [filters]);
  const jobs = useLoad(load, pollMs);
  const cancel = async (job: Job) => {
    try {
      await api.post(`/jobs/${encodeURIComponent(job.id)}/cancel`, {});
      setActionError(null);
      await jobs.reload();
    } catch (err) {
      setActionError(describeError(err));
    }
  };
  const set = (name: 'key' | 'status') => (e: Event) => setFilters({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value });
  return (
    <Section title="Async jobs">
      <form class="form-grid filters" onSubmit={(e) => e.preventDefault()} aria-label="Job filters">
        <Field label="Key" hint="name or id">
          <input name="job_key" value={filters.key} onChange={set('key')} />
        </Field>
        <Field label="Job status">
          <select name="job_status" value={filters.status} onChange={set('status')}>
            <option value="">any</option>
            {Object.keys(STATUS_CHOICES).map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </Field>
      </form>
      <ErrorNote message={jobs.error ?? actionError} />
      {jobs.data?.length === 0 ? <p>No jobs match.</p> : null}
      {jobs.data && jobs.data.length > 0 ? (
        <TableWrap label="Async jobs table">
          <table aria-label="Async jobs">
            <thead>
              <tr>
                <th>Created</th>
                <th>Job</th>
                <th>Status</th>
                <th>Key</th>
                <th>Endpoint</th>
                <th>Error</th>
                <th>Waited</th>
                <th>Ran</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((job) => (
                <JobRow key={job.id} job={job} onCancel={(j) => void cancel(j)} />
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </Section>
  );
}
