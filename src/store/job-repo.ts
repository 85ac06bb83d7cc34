import { toBuffer, type DbQuerier } from './db.js';

/** Where a job is in its life; the last four are final. */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired';

/** The statuses after which a job never changes again (but for expiry). */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled', 'expired'];

/** A job row as stored: ids, status, timings, codes and the sealed result; never the request. */
export interface JobRow {
  idHash: string;
  keyId: string;
  instanceId: string;
  endpoint: 'generations' | 'edits';
  status: JobStatus;
  cancelRequested: boolean;
  errorCode: string | null;
  httpStatus: number | null;
  resultSealed: Buffer | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  expiresAt: number | null;
}

/** A job as operators see it: no sealed result. */
export type JobSummary = Omit<JobRow, 'resultSealed'> & { keyName: string | null };

interface RawJobRow {
  id_hash: string;
  key_id: string;
  instance_id: string;
  endpoint: 'generations' | 'edits';
  status: JobStatus;
  cancel_requested: boolean;
  error_code: string | null;
  http_status: number | string | null;
  result_sealed: Uint8Array | null;
  created_at: number | string;
  started_at: number | string | null;
  finished_at: number | string | null;
  expires_at: number | string | null;
  key_name?: string | null;
}

const COLUMNS =
  'j.id_hash, j.key_id, j.instance_id, j.endpoint, j.status, j.cancel_requested, j.error_code, j.http_status, j.created_at, j.started_at, j.finished_at, j.expires_at';
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toRow(raw: RawJobRow): JobRow {
  return {
    idHash: raw.id_hash,
    keyId: raw.key_id,
    instanceId: raw.instance_id,
    endpoint: raw.endpoint,
    status: raw.status,
    cancelRequested: raw.cancel_requested,
    errorCode: raw.error_code,
    httpStatus: num(raw.http_status),
    resultSealed: raw.result_sealed ? toBuffer(raw.result_sealed) : null,
    createdAt: Number(raw.created_at),
    startedAt: num(raw.started_at),
    finishedAt: num(raw.finished_at),
    expiresAt: num(raw.expires_at),
  };
}

/** Records a new queued job. */
export async function insertJob(
  db: DbQuerier,
  job: { idHash: string; keyId: string; instanceId: string; endpoint: JobRow['endpoint']; createdAt: number },
): Promise<void> {
  await db.query('INSERT INTO image_jobs (id_hash, key_id, instance_id, endpoint, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
    job.idHash,
    job.keyId,
    job.instanceId,
    job.endpoint,
    'queued',
    job.createdAt,
  ]);
}

/** The job with this id hash; null when there is none. */
export async function readJob(db: DbQuerier, idHash: string): Promise<JobRow | null> {
  const rows = await db.query<RawJobRow>(`SELECT ${COLUMNS}, j.result_sealed FROM image_jobs j WHERE j.id_hash = $1`, [idHash]);
  return rows[0] ? toRow(rows[0]) : null;
}

/** queued → running; false when the job is no longer queued (cancelled meanwhile). */
export async function markJobRunning(db: DbQuerier, idHash: string, startedAt: number): Promise<boolean> {
  const rows = await db.query<{ id_hash: string }>(
    "UPDATE image_jobs SET status = 'running', started_at = $2 WHERE id_hash = $1 AND status = 'queued' RETURNING id_hash",
    [idHash, startedAt],
  );
  return rows.length === 1;
}

/**
 * Ends a job that is still open (queued or running): its final status, the answer's HTTP status and
 * error code, the sealed result and when it expires. An already final job is left as it is (a cancel
 * or the instance-lost sweep got there first); returns whether this call ended it.
 */
export async function finishJob(
  db: DbQuerier,
  idHash: string,
  end: {
    status: Exclude<JobStatus, 'queued' | 'running' | 'expired'>;
    httpStatus: number | null;
    errorCode: string | null;
    resultSealed: Buffer | null;
    finishedAt: number;
    expiresAt: number;
  },
): Promise<boolean> {
  const rows = await db.query<{ id_hash: string }>(
    `UPDATE image_jobs SET status = $2, http_status = $3, error_code = $4, result_sealed = $5, finished_at = $6, expires_at = $7
      WHERE id_hash = $1 AND status IN ('queued', 'running') RETURNING id_hash`,
    [idHash, end.status, end.httpStatus, end.errorCode, end.resultSealed, end.finishedAt, end.expiresAt],
  );
  return rows.length === 1;
}

/** Asks the instance that runs an open job to cancel it (it checks on its heartbeat). */
export async function requestJobCancel(db: DbQuerier, idHash: string): Promise<void> {
  await db.query("UPDATE image_jobs SET cancel_requested = TRUE WHERE id_hash = $1 AND status IN ('queued', 'running')", [idHash]);
}

/** Open jobs of `instanceId` that someone asked to cancel. */
export async function listCancelRequested(db: DbQuerier, instanceId: string): Promise<string[]> {
  const rows = await db.query<{ id_hash: string }>(
    "SELECT id_hash FROM image_jobs WHERE instance_id = $1 AND cancel_requested AND status IN ('queued', 'running')",
    [instanceId],
  );
  return rows.map((r) => r.id_hash);
}

/**
 * The periodic sweep, in one round trip each:
 * - open jobs whose instance has not beaten since `lostBefore`, stopped, or is gone from the
 *   registry (`gateway_instances`, store/instance-repo.ts) end `failed` with `instance_lost` (never
 *   silently stuck);
 * - final jobs past `expires_at` become `expired` and lose their sealed result;
 * - expired rows older than `deleteBefore` are deleted.
 * Returns how many jobs each step touched.
 */
export async function sweepJobs(
  db: DbQuerier,
  opts: { now: number; lostBefore: number; deleteBefore: number; resultTtlMs: number },
): Promise<{ lost: number; expired: number; deleted: number }> {
  const lost = await db.query<{ id_hash: string }>(
    `UPDATE image_jobs j SET status = 'failed', error_code = 'instance_lost', http_status = 500, finished_at = $1, expires_at = $1 + $3::bigint
      WHERE j.status IN ('queued', 'running')
        AND NOT EXISTS (SELECT 1 FROM gateway_instances i WHERE i.id = j.instance_id AND i.heartbeat_at >= $2 AND i.stopped_at IS NULL)
      RETURNING j.id_hash`,
    [opts.now, opts.lostBefore, opts.resultTtlMs],
  );
  const expired = await db.query<{ id_hash: string }>(
    "UPDATE image_jobs SET status = 'expired', result_sealed = NULL WHERE expires_at < $1 AND status IN ('succeeded', 'failed', 'cancelled') RETURNING id_hash",
    [opts.now],
  );
  const deleted = await db.query<{ id_hash: string }>("DELETE FROM image_jobs WHERE status = 'expired' AND expires_at < $1 RETURNING id_hash", [
    opts.deleteBefore,
  ]);
  return { lost: lost.length, expired: expired.length, deleted: deleted.length };
}

/** Recent jobs for operators, newest first (optionally of one key, or one status). */
export async function listJobs(db: DbQuerier, filter: { keyId?: string; status?: JobStatus; limit: number }): Promise<JobSummary[]> {
  const rows = await db.query<RawJobRow>(
    `SELECT ${COLUMNS}, NULL AS result_sealed, k.name AS key_name FROM image_jobs j LEFT JOIN api_keys k ON k.id = j.key_id
      WHERE ($1::text IS NULL OR j.key_id = $1) AND ($2::text IS NULL OR j.status = $2)
      ORDER BY j.created_at DESC LIMIT $3`,
    [filter.keyId ?? null, filter.status ?? null, filter.limit],
  );
  return rows.map((raw) => {
    const { resultSealed: _sealed, ...row } = toRow(raw);
    return { ...row, keyName: raw.key_name ?? null };
  });
}

/** How many open (queued) jobs a key has on an instance. */
export async function countQueuedJobs(db: DbQuerier, keyId: string): Promise<number> {
  const rows = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM image_jobs WHERE key_id = $1 AND status = 'queued'", [keyId]);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Jobs whose id hash starts with `prefix` (lowercase hex, checked by the caller), newest first, at
 * most `limit`, with the key's name: how operators name a job by a short id, like a git hash.
 * Never the sealed result.
 */
export async function findJobsByIdPrefix(db: DbQuerier, prefix: string, limit: number): Promise<JobSummary[]> {
  const rows = await db.query<RawJobRow>(
    `SELECT ${COLUMNS}, NULL AS result_sealed, k.name AS key_name FROM image_jobs j LEFT JOIN api_keys k ON k.id = j.key_id
      WHERE starts_with(j.id_hash, $1) ORDER BY j.created_at DESC LIMIT $2`,
    [prefix, limit],
  );
  return rows.map((raw) => {
    const { resultSealed: _sealed, ...row } = toRow(raw);
    return { ...row, keyName: raw.key_name ?? null };
  });
}
