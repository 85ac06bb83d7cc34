import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { PUBLIC_API_BASES } from '../images/endpoint-aliases.js';
import { openCapability, openWithCapability, type Capability } from '../store/capability-seal.js';
import { FINAL_JOB_STATUSES, readJob, requestJobCancel, type JobRow } from '../store/job-repo.js';
import type { GatewayDeps, JobRuntime } from './gateway-deps.js';
import { resolveGatewayKey } from './resolve-gateway-key.js';

/** Every job id starts with this; the rest is the job's secret (see capability-seal.ts). */
export const JOB_ID_PREFIX = 'imgjob_';
/** `GET`/`DELETE <base>/images/jobs/{id}` under every public API base. */
export const JOB_PATHS: readonly string[] = PUBLIC_API_BASES.map((base) => `${base}/images/jobs/:jobId`);
/** Longest long poll (`?wait=N`), in seconds. */
export const MAX_JOB_WAIT_S = 60;

const JOB_METHODS = ['GET', 'HEAD', 'DELETE'];

/** A job as the client sees it: status, timings, and the answer the plain request would have given. */
export function buildJobView(row: JobRow, capability: Capability) {
  const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  const view = {
    id: capability.token,
    object: 'image.job' as const,
    status: row.status,
    created_at: seconds(row.createdAt),
    started_at: seconds(row.startedAt),
    finished_at: seconds(row.finishedAt),
    expires_at: seconds(row.expiresAt),
  };
  if (row.status === 'cancelled')
    return { ...view, error: { message: 'the job was cancelled', type: 'invalid_request_error', param: null, code: 'cancelled' } };
  if (row.resultSealed === null) {
    return row.status === 'failed' ? { ...view, status_code: row.httpStatus, error: unsealedError(row.errorCode) } : view;
  }
  const sealed = JSON.parse(openWithCapability(capability, row.resultSealed).toString('utf8')) as { status: number; body: { error?: unknown } };
  return row.status === 'succeeded' ? { ...view, result: sealed.body } : { ...view, status_code: sealed.status, error: sealed.body.error };
}

/** The error of a job that ended without a sealed answer (the instance running it was lost). */
function unsealedError(code: string | null) {
  return code === 'instance_lost'
    ? { message: 'the gateway instance running this job stopped before it finished; submit it again', type: 'server_error', param: null, code }
    : { message: 'the job failed', type: 'server_error', param: null, code: code ?? 'job_failed' };
}

/**
 * `GET <base>/images/jobs/{id}[?wait=N]` and `DELETE` (cancel) with the key that submitted the job;
 * any other key, or an unknown, malformed or deleted id, gets 404 `job_not_found`.
 */
export function registerJobRoutes(app: FastifyInstance, deps: GatewayDeps, jobs: JobRuntime, methods: readonly HTTPMethods[]): void {
  for (const path of JOB_PATHS) {
    app.route({
      method: [...methods],
      url: path,
      handler: async (req, reply) => {
        if (!JOB_METHODS.includes(req.method)) {
          throw new GatewayError('method_not_allowed', 'job endpoint requires GET or DELETE', null, { headers: { allow: JOB_METHODS.join(', ') } });
        }
        const { key } = resolveGatewayKey(req, deps.snapshots, deps.now());
        const capability = openCapability(JOB_ID_PREFIX, (req.params as { jobId: string }).jobId);
        const found = capability && (await readJob(jobs.db, capability.idHash));
        if (!capability || !found || found.keyId !== key.id) throw new GatewayError('job_not_found', 'no such job for this key', 'job_id');
        const signal = abortOnClose(reply);
        const row = req.method === 'DELETE' ? await cancelJob(jobs, found, signal) : await waitForJob(jobs, found, waitSeconds(req), signal);
        return reply.header('cache-control', 'no-store').send(buildJobView(row, capability));
      },
    });
  }
}

function waitSeconds(req: FastifyRequest): number {
  const raw = (req.query as { wait?: unknown }).wait;
  if (raw === undefined) return 0;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new GatewayError('invalid_request', `wait must be a number of seconds from 0 to ${MAX_JOB_WAIT_S}`, 'wait');
  return Math.min(seconds, MAX_JOB_WAIT_S);
}

const isFinal = (row: JobRow) => FINAL_JOB_STATUSES.includes(row.status);

/** Re-reads the job until it is final or `seconds` pass: woken at once by this process, else every second. */
async function waitForJob(jobs: JobRuntime, row: JobRow, seconds: number, signal: AbortSignal): Promise<JobRow> {
  const deadline = Date.now() + seconds * 1000;
  let current = row;
  while (!isFinal(current) && Date.now() < deadline && !signal.aborted) {
    await jobs.scheduler.waitForChange(current.idHash, Math.min(1000, deadline - Date.now()), signal);
    current = (await readJob(jobs.db, current.idHash)) ?? current;
  }
  return current;
}

/** Cancels an open job (here, or by asking the instance that runs it) and answers its state shortly after. */
async function cancelJob(jobs: JobRuntime, row: JobRow, signal: AbortSignal): Promise<JobRow> {
  if (isFinal(row)) return row;
  if (!(await jobs.scheduler.cancel(row.idHash))) await requestJobCancel(jobs.db, row.idHash);
  return waitForJob(jobs, (await readJob(jobs.db, row.idHash)) ?? row, 5, signal);
}

/** Aborts when the client goes away before the answer is complete (ends a long poll early). */
function abortOnClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
