import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { explainEmptyPlan } from '../dispatch/plan-exhaustion.js';
import type { RequestOutcome } from '../dispatch/request-outcome.js';
import { GatewayError } from '../errors/codes.js';
import { PUBLIC_API_BASES } from '../images/endpoint-aliases.js';
import { createCapability, openCapability, openWithCapability, type Capability } from '../store/capability-seal.js';
import { FINAL_JOB_STATUSES, countQueuedJobs, insertJob, readJob, requestJobCancel, type JobRow } from '../store/job-repo.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import { planFor } from './dispatch-context.js';
import type { GatewayDeps, JobRuntime } from './gateway-deps.js';
import { resolveGatewayKey } from './resolve-gateway-key.js';

/** Every job id starts with this; the rest is the job's secret (see capability-seal.ts). */
export const JOB_ID_PREFIX = 'imgjob_';
/** `GET`/`DELETE <base>/images/jobs/{id}` under every public API base. */
export const JOB_PATHS: readonly string[] = PUBLIC_API_BASES.map((base) => `${base}/images/jobs/:jobId`);
/** Longest long poll (`?wait=N`), in seconds. */
export const MAX_JOB_WAIT_S = 60;

const JOB_METHODS = ['GET', 'HEAD', 'DELETE'];
const PREFER_ASYNC = /(?:^|,)\s*respond-async\s*(?:[;,]|$)/i;

/** True when the client asked for an async answer (`Prefer: respond-async`, RFC 7240). */
export function prefersAsync(req: FastifyRequest): boolean {
  const prefer = req.headers.prefer;
  return (Array.isArray(prefer) ? prefer : [prefer ?? '']).some((value) => PREFER_ASYNC.test(value));
}

/** What a submitted job needs from the request that asked for it. */
export interface JobSubmission {
  key: KeyRecord;
  snapshot: Snapshot;
  outcome: RequestOutcome;
  clientHeaders: Record<string, string | string[] | undefined>;
  /** Deletes the request's spooled uploads once the job is done with them. */
  cleanup: () => Promise<void>;
}

/**
 * Accepts a validated request as an async job: `202 Accepted`, `Preference-Applied`, `Location` and
 * the job object. Refused now, as the plain request would be: a stream (a job answers JSON), no
 * image account, a key whose queue is full (`job_queue_full`, 429).
 */
export async function submitJob(jobs: JobRuntime, deps: GatewayDeps, reply: FastifyReply, submission: JobSubmission): Promise<void> {
  const { key, snapshot, outcome } = submission;
  if (outcome.request.stream) throw new GatewayError('invalid_request', 'stream: true cannot be combined with Prefer: respond-async', 'stream');
  const plan = planFor(key, snapshot, deps);
  if (plan.candidates.length === 0) {
    const why = explainEmptyPlan(plan, deps.now());
    if (why.code === 'no_image_accounts' || why.code === 'accounts_need_reimport') throw new GatewayError(why.code, why.message);
  }
  const limit = snapshot.settings.jobMaxQueuedPerKey;
  if ((await countQueuedJobs(jobs.db, key.id)) >= limit) {
    throw new GatewayError('job_queue_full', `this key already has ${limit} queued jobs; wait for one to start`);
  }
  const capability = createCapability(JOB_ID_PREFIX);
  const createdAt = deps.now();
  await insertJob(jobs.db, { idHash: capability.idHash, keyId: key.id, instanceId: jobs.instanceId, endpoint: outcome.request.endpoint, createdAt });
  jobs.scheduler.enqueue({
    capability,
    keyId: key.id,
    request: outcome.request,
    outcome,
    clientHeaders: submission.clientHeaders,
    controller: new AbortController(),
    cleanup: submission.cleanup,
    enqueuedAt: createdAt,
  });
  await reply
    .code(202)
    .headers({ 'preference-applied': 'respond-async', location: `/v1/images/jobs/${capability.token}`, 'cache-control': 'no-store' })
    .send({ id: capability.token, object: 'image.job', status: 'queued', created_at: Math.floor(createdAt / 1000) });
}

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
