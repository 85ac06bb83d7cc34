import type { Db } from '../store/db.js';
import { isInstanceLive, listInstances, type InstanceRow } from '../store/instance-repo.js';
import type { ControlApi, InstanceView } from './control-api.js';

/**
 * Operators' view of the instance registry: every `start`, `serve` and `control` process that beat
 * in the last 24 h, live, dead (silent past INSTANCE_DEAD_AFTER_BEATS of its periods) or stopped.
 */
export function createInstanceService({ db, now }: { db: Db; now: () => number }): ControlApi['instances'] {
  return {
    list: async () => {
      const at = now();
      return (await listInstances(db)).map((row) => buildInstanceView(row, at));
    },
  };
}

/** A registry row as operators see it, judged live or not at `now`. */
export function buildInstanceView(row: InstanceRow, now: number): InstanceView {
  const live = isInstanceLive(row, now);
  return {
    id: row.id,
    role: row.role,
    state: live ? 'live' : row.stoppedAt === null ? 'dead' : 'stopped',
    live,
    version: row.version,
    hostname: row.hostname,
    pid: row.pid,
    listenUrl: row.listenUrl,
    adminUrl: row.adminUrl,
    statusUrl: row.statusUrl,
    heartbeatMs: row.heartbeatMs,
    startedAt: row.startedAt,
    lastSeenAt: row.heartbeatAt,
    stoppedAt: row.stoppedAt,
  };
}
