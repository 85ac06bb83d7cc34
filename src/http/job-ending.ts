import { toOpenAIError } from '../errors/openai-shape.js';
import { sealWithCapability } from '../store/capability-seal.js';
import type { Db } from '../store/db.js';
import { finishJob } from '../store/job-repo.js';
import type { JobAnswer } from './job-execution.js';
import type { LocalJob } from './job-queue.js';

/** Codes safe to store in clear (the table's CHECK): anything else is reported as `upstream_error`. */
const STORABLE_CODE = /^[a-z_]{1,64}$/;

/** The answer of an error raised instead of running (or thrown by the run): its OpenAI body and status. */
export function errorAnswer(err: unknown): JobAnswer {
  const mapped = toOpenAIError(err);
  return { kind: 'answer', status: mapped.status, body: mapped.body, errorCode: mapped.body.error.code };
}

/**
 * Finishes a job's row: a cancellation as such, any other answer sealed under the job's capability
 * (only its holder can read it), kept until `finishedAt + resultTtlMs`.
 */
export async function storeJobEnd(db: Db, job: LocalJob, answer: JobAnswer, finishedAt: number, resultTtlMs: number): Promise<void> {
  const expiresAt = finishedAt + resultTtlMs;
  if (answer.kind === 'cancelled') {
    await finishJob(db, job.capability.idHash, { status: 'cancelled', httpStatus: null, errorCode: 'cancelled', resultSealed: null, finishedAt, expiresAt });
    return;
  }
  const sealed = sealWithCapability(job.capability, Buffer.from(JSON.stringify({ status: answer.status, body: answer.body })));
  const errorCode = answer.errorCode === null ? null : STORABLE_CODE.test(answer.errorCode) ? answer.errorCode : 'upstream_error';
  await finishJob(db, job.capability.idHash, {
    status: answer.status === 200 ? 'succeeded' : 'failed',
    httpStatus: answer.status,
    errorCode,
    resultSealed: sealed,
    finishedAt,
    expiresAt,
  });
}
