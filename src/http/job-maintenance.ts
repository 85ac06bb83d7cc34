import { listCancelRequested, sweepJobs } from '../store/job-repo.js';
import type { JobRuntime } from './gateway-deps.js';

export interface JobMaintenanceOptions {
  jobs: JobRuntime;
  heartbeatMs: number;
  /** An instance silent this long has its open jobs ended `instance_lost`. */
  instanceTimeoutMs: number;
  resultTtlMs: number;
  now: () => number;
  onError: (err: unknown) => void;
}

/**
 * Every `heartbeatMs`: cancels this instance's jobs that a cancel through another instance asked
 * for, and sweeps (jobs of lost instances end `failed`/`instance_lost`, results past their TTL
 * expire, long-expired rows are deleted). Every instance sweeps: the statements are idempotent.
 * That this instance is alive is the process heartbeat's business (runtime/instance-heartbeat.ts),
 * which beats at least this often. The first tick happens before this returns.
 */
export async function startJobMaintenance(opts: JobMaintenanceOptions): Promise<{ stop(): Promise<void> }> {
  const { jobs } = opts;
  const tick = async () => {
    const now = opts.now();
    for (const idHash of await listCancelRequested(jobs.db, jobs.instanceId)) await jobs.scheduler.cancel(idHash);
    await sweepJobs(jobs.db, { now, lostBefore: now - opts.instanceTimeoutMs, deleteBefore: now - opts.resultTtlMs, resultTtlMs: opts.resultTtlMs });
  };
  await tick();
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(tick).catch(opts.onError);
  }, opts.heartbeatMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
