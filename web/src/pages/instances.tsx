/** Instances: every process sharing the database (start, serve, control), from the instance registry's heartbeats. */
import { useCallback } from 'preact/hooks';
import { api } from '../api.js';
import type { Instance } from '../types.js';
import { ErrorNote, TableWrap, formatTime, useLoad } from '../ui.js';

const REFRESH_MS = 5_000;

/** Badge class per state (the same three the server decides). */
const STATE_BADGE = { live: 'active', dead: 'bad', stopped: 'disabled' } as const satisfies Record<Instance['state'], string>;

/** Seconds since `ms`, as `4 s ago`. */
const formatAgo = (ms: number): string => `${Math.max(0, Math.round((Date.now() - ms) / 1000))} s ago`;

function InstanceRow({ instance: i }: { instance: Instance }) {
  return (
    <tr class={i.state === 'dead' ? 'row-bad' : ''}>
      <td>
        <code>{i.id}</code>
      </td>
      <td>{i.role}</td>
      <td>
        <span class={`badge ${STATE_BADGE[i.state]}`}>{i.state}</span>
      </td>
      <td>{i.version || '—'}</td>
      <td>
        {i.hostname || '—'}
        {i.pid === null ? '' : ` (pid ${i.pid})`}
      </td>
      <td>{i.listen_url ?? '—'}</td>
      <td>{i.admin_url ?? '—'}</td>
      <td>{formatTime(i.started_at)}</td>
      <td title={formatTime(i.last_seen_at)}>{i.state === 'stopped' ? `stopped ${formatTime(i.stopped_at)}` : formatAgo(i.last_seen_at)}</td>
    </tr>
  );
}

/** The Instances page (refreshes every 5 s). */
export function InstancesPage() {
  const load = useCallback(async () => (await api.get<{ data: Instance[] }>('/instances')).data, []);
  const instances = useLoad(load, REFRESH_MS);
  return (
    <>
      <h1>Instances</h1>
      <p class="muted">
        Every gateway process sharing this database records a heartbeat. One silent for three of its heartbeat periods is dead (killed, or cut off from the
        database); one stopped cleanly says so. Rows go after 24 hours.
      </p>
      <ErrorNote message={instances.error} />
      {instances.data?.length === 0 ? <p>No instances recorded.</p> : null}
      {instances.data && instances.data.length > 0 ? (
        <TableWrap label="Instances table">
          <table aria-label="Instances">
            <thead>
              <tr>
                <th>Instance</th>
                <th>Role</th>
                <th>State</th>
                <th>Version</th>
                <th>Host</th>
                <th>Data plane</th>
                <th>Admin</th>
                <th>Started</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {instances.data.map((instance) => (
                <InstanceRow key={instance.id} instance={instance} />
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </>
  );
}
