import type { FastifyReply, FastifyRequest } from 'fastify';
import { explainEmptyPlan } from '../dispatch/plan-exhaustion.js';
import type { RequestOutcome } from '../dispatch/request-outcome.js';
import { GatewayError } from '../errors/codes.js';
import { createCapability } from '../store/capability-seal.js';
import { countQueuedJobs, insertJob } from '../store/job-repo.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import { planFor } from './dispatch-context.js';
import type { GatewayDeps, JobRuntime } from './gateway-deps.js';
import { JOB_ID_PREFIX } from './job-routes.js';

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
  const unservable = findUnservableRefusal(key, snapshot, deps);
  if (unservable) throw unservable;
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

/**
 * Why no account could ever serve this key's job: none has images on, or every one needs
 * re-importing. Null when one could, even if every account cools down now (a job waits that out).
 */
export function findUnservableRefusal(key: KeyRecord, snapshot: Snapshot, deps: GatewayDeps): GatewayError | null {
  const plan = planFor(key, snapshot, deps);
  if (plan.candidates.length > 0) return null;
  const why = explainEmptyPlan(plan, deps.now());
  return why.code === 'no_image_accounts' || why.code === 'accounts_need_reimport' ? new GatewayError(why.code, why.message) : null;
}
