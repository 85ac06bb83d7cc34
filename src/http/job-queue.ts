import type { RequestOutcome } from '../dispatch/request-outcome.js';
import type { ImageRequest } from '../images/image-request.js';
import type { Capability } from '../store/capability-seal.js';

/** A job waiting for capacity, or running, in this process. The request lives only here. */
export interface LocalJob {
  capability: Capability;
  keyId: string;
  request: ImageRequest;
  outcome: RequestOutcome;
  clientHeaders: Record<string, string | string[] | undefined>;
  /** Aborts the job's upstream calls (cancel, drain). */
  controller: AbortController;
  /** Deletes the job's spooled uploads. */
  cleanup: () => Promise<void>;
  enqueuedAt: number;
}

/**
 * What the job routes and the job maintenance loop need from this process's job runner
 * (JobScheduler implements it; the routes see only this, so they do not depend on how jobs run).
 */
export interface JobQueue {
  /** Takes a job already recorded as queued; it starts as soon as capacity allows. */
  enqueue(job: LocalJob): void;
  /** Cancels a job of this process: a queued one ends at once, a running one has its upstream calls aborted. */
  cancel(idHash: string): Promise<boolean>;
  /** Resolves when a job of this process changes (started or ended), or after `ms`. */
  waitForChange(idHash: string, ms: number, signal: AbortSignal): Promise<void>;
  /** Stops taking jobs and ends the queued and running ones (running ones get `graceMs` to finish). */
  drain(graceMs: number): Promise<void>;
}
