import type { DbQuerier } from './db.js';

/** What a process is: both planes (`start`), the data plane alone (`serve`) or the control plane alone (`control`). */
export type InstanceRole = 'start' | 'serve' | 'control';

/** Every role, each once (the migration's CHECK lists the same three). */
export const INSTANCE_ROLES = ['start', 'serve', 'control'] as const satisfies readonly InstanceRole[];

/**
 * Beat periods a process may miss before it counts as dead: its row's last beat is older than this
 * many times its own `heartbeatMs`. Three, so one slow database round trip never makes a live process
 * look dead.
 */
export const INSTANCE_DEAD_AFTER_BEATS = 3;

/** Rows whose last beat is older than this (stopped or dead processes) are deleted by the next beat of any process: 24 h. */
export const INSTANCE_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Where a process listens, once it does (null: that role has no such listener, or it has none yet). */
export interface InstanceAddresses {
  /** The data-plane listener as bound (`http://0.0.0.0:19082`). */
  listenUrl: string | null;
  /** The admin listener as bound. */
  adminUrl: string | null;
  /** Base URL at which other processes reach this data plane's GET /status; null = no status endpoint. */
  statusUrl: string | null;
}

/** One beat: who the process is, where it listens, and when. */
export interface InstanceBeat extends InstanceAddresses {
  id: string;
  role: InstanceRole;
  /** The package version the process runs. */
  version: string;
  hostname: string;
  pid: number;
  /** The period the process beats at, so others judge its liveness by its own clock (ms). */
  heartbeatMs: number;
  /** This beat's time (ms since epoch); the first beat also sets `startedAt`. */
  now: number;
}

/** A registry row as stored. */
export interface InstanceRow extends InstanceAddresses {
  id: string;
  role: InstanceRole;
  version: string;
  hostname: string;
  pid: number | null;
  heartbeatMs: number;
  startedAt: number;
  /** The last beat. */
  heartbeatAt: number;
  /** Set by a clean stop; null while running (or after a kill). */
  stoppedAt: number | null;
}

interface RawInstanceRow {
  id: string;
  role: InstanceRole;
  version: string;
  hostname: string;
  pid: number | string | null;
  heartbeat_ms: number | string;
  listen_url: string | null;
  admin_url: string | null;
  status_url: string | null;
  started_at: number | string;
  heartbeat_at: number | string;
  stopped_at: number | string | null;
}

/**
 * Records that a process is alive, with its addresses (inserted on the first beat). A beat after a
 * stop mark clears it: the id is the process's own, so it beating again means it runs.
 */
export async function beatInstance(db: DbQuerier, beat: InstanceBeat): Promise<void> {
  await db.query(
    `INSERT INTO gateway_instances (id, role, version, hostname, pid, heartbeat_ms, listen_url, admin_url, status_url, started_at, heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, heartbeat_ms = EXCLUDED.heartbeat_ms,
       listen_url = EXCLUDED.listen_url, admin_url = EXCLUDED.admin_url, status_url = EXCLUDED.status_url, stopped_at = NULL`,
    [beat.id, beat.role, beat.version, beat.hostname, beat.pid, beat.heartbeatMs, beat.listenUrl, beat.adminUrl, beat.statusUrl, beat.now],
  );
}

/**
 * Marks a process stopped cleanly (its row stays, for operators, until INSTANCE_RETENTION_MS has
 * passed). Its open async jobs, if any were left, count as lost at the next sweep.
 */
export async function markInstanceStopped(db: DbQuerier, id: string, now: number): Promise<void> {
  await db.query('UPDATE gateway_instances SET stopped_at = $2 WHERE id = $1', [id, now]);
}

/** Deletes rows last beaten before `before` (ms since epoch); returns how many. */
export async function pruneInstances(db: DbQuerier, before: number): Promise<number> {
  return (await db.query<{ id: string }>('DELETE FROM gateway_instances WHERE heartbeat_at < $1 RETURNING id', [before])).length;
}

/** Every row, by role and then by start time. */
export async function listInstances(db: DbQuerier): Promise<InstanceRow[]> {
  const rows = await db.query<RawInstanceRow>(
    `SELECT id, role, version, hostname, pid, heartbeat_ms, listen_url, admin_url, status_url, started_at, heartbeat_at, stopped_at
       FROM gateway_instances ORDER BY role, started_at, id`,
  );
  return rows.map(toInstanceRow);
}

function toInstanceRow(raw: RawInstanceRow): InstanceRow {
  return {
    id: raw.id,
    role: raw.role,
    version: raw.version,
    hostname: raw.hostname,
    pid: raw.pid === null ? null : Number(raw.pid),
    heartbeatMs: Number(raw.heartbeat_ms),
    listenUrl: raw.listen_url,
    adminUrl: raw.admin_url,
    statusUrl: raw.status_url,
    startedAt: Number(raw.started_at),
    heartbeatAt: Number(raw.heartbeat_at),
    stoppedAt: raw.stopped_at === null ? null : Number(raw.stopped_at),
  };
}

/**
 * Whether a process runs as far as anyone can tell: not stopped, and its last beat at most
 * INSTANCE_DEAD_AFTER_BEATS of its own periods ago. A killed process turns dead that long after
 * its last beat.
 */
export const isInstanceLive = (row: Pick<InstanceRow, 'stoppedAt' | 'heartbeatAt' | 'heartbeatMs'>, now: number): boolean =>
  row.stoppedAt === null && now - row.heartbeatAt <= INSTANCE_DEAD_AFTER_BEATS * row.heartbeatMs;
