import { FIELD_LIMITS } from '../config/field-limits.js';
import { GatewayError } from '../errors/codes.js';
import type { Db } from '../store/db.js';
import { findJobsByIdPrefix, listJobs, requestJobCancel, FINAL_JOB_STATUSES, type JobStatus, type JobSummary } from '../store/job-repo.js';
import { findKey } from '../store/key-repo.js';
import type { ControlApi, JobListFilter, JobView } from './control-api.js';
import { parseChoice, parseInputObject, parseIntegerInRange } from './field-parsers.js';

/** Wire names of the job list filter (query parameters and error `param`s). */
export const JOB_FILTER_PARAMS = { key: 'key', status: 'status', limit: 'limit' } as const satisfies Record<keyof JobListFilter, string>;

/** Fewest hex characters of an id hash that name a job (git-style short ids). */
export const JOB_REF_MIN_CHARS = 12;

/** Every job status, each once (a new status breaks the build here until it is listed). */
const JOB_STATUS_TABLE = { queued: true, running: true, succeeded: true, failed: true, cancelled: true, expired: true } as const satisfies Record<
  JobStatus,
  true
>;
/** The statuses in their life order. */
export const JOB_STATUSES = Object.keys(JOB_STATUS_TABLE) as JobStatus[];

const JOB_REF = new RegExp(`^[0-9a-f]{${JOB_REF_MIN_CHARS},64}$`);
const JOB_PARAM = 'job';

/**
 * Operators' view of async jobs: list, show, cancel. Reads the job table only; a cancel sets the
 * row's flag and the data plane that owns the job aborts it on its next heartbeat.
 */
export function createJobService({ db }: { db: Db }): ControlApi['jobs'] {
  const mustFind = async (ref: string): Promise<JobSummary> => {
    const found = await findJobsByIdPrefix(db, parseJobRef(ref), 2);
    if (found.length === 0) throw new GatewayError('not_found', 'job not found', JOB_PARAM);
    if (found.length > 1) throw new GatewayError('invalid_request', `job id \`${ref}\` matches more than one job; give more of its characters`, JOB_PARAM);
    return found[0]!;
  };
  return {
    async list(filter = {}) {
      const raw = parseInputObject(filter, JOB_FILTER_PARAMS);
      const keyId = raw.key === undefined ? undefined : await resolveKeyId(db, raw.key);
      const status = raw.status === undefined ? undefined : parseChoice(raw.status, JOB_STATUSES, JOB_FILTER_PARAMS.status);
      const limit =
        raw.limit === undefined ? FIELD_LIMITS.jobListLimit.default : parseIntegerInRange(raw.limit, FIELD_LIMITS.jobListLimit, JOB_FILTER_PARAMS.limit);
      return (await listJobs(db, { keyId, status, limit })).map(buildJobView);
    },
    show: async (ref) => buildJobView(await mustFind(ref)),
    async cancel(ref) {
      const job = await mustFind(ref);
      if (FINAL_JOB_STATUSES.includes(job.status)) return buildJobView(job);
      await requestJobCancel(db, job.idHash);
      return buildJobView(await mustFind(job.idHash));
    },
  };
}

/**
 * A job reference: the id hash, or at least JOB_REF_MIN_CHARS of its first characters (any case).
 * @throws GatewayError('invalid_request', param `job`)
 */
export function parseJobRef(ref: unknown): string {
  const text = typeof ref === 'string' ? ref.trim().toLowerCase() : '';
  if (!JOB_REF.test(text)) {
    throw new GatewayError(
      'invalid_request',
      `job must be a job id as \`jobs list\` shows it (at least ${JOB_REF_MIN_CHARS} of its hex characters)`,
      JOB_PARAM,
    );
  }
  return text;
}

async function resolveKeyId(db: Db, ref: unknown): Promise<string> {
  const key = typeof ref === 'string' && ref.trim() !== '' ? await findKey(db, ref.trim()) : null;
  if (!key) throw new GatewayError('invalid_request', `unknown key \`${String(ref)}\``, JOB_FILTER_PARAMS.key);
  return key.id;
}

/** The operator view of a job row (the row type has no result; this copies an allow-list anyway). */
export function buildJobView(job: JobSummary): JobView {
  return {
    id: job.idHash,
    keyId: job.keyId,
    keyName: job.keyName,
    endpoint: job.endpoint,
    status: job.status,
    cancelRequested: job.cancelRequested,
    errorCode: job.errorCode,
    httpStatus: job.httpStatus,
    instanceId: job.instanceId,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    expiresAt: job.expiresAt,
  };
}
