import type { Candidate } from '../dispatch/plan-candidates.js';
import type { RequestOutcome } from '../dispatch/request-outcome.js';
import type { HeldSlot } from '../dispatch/run-failover.js';
import { GatewayError } from '../errors/codes.js';
import type { Permit } from '../limits/permit.js';
import type { Db } from '../store/db.js';
import { markJobRunning } from '../store/job-repo.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import { openWaitingTake, planFor, takeKeyPlace } from './dispatch-context.js';
import type { GatewayDeps } from './gateway-deps.js';
import { errorAnswer, storeJobEnd } from './job-ending.js';
import { executeImageJob, type JobAnswer } from './job-execution.js';
import type { JobQueue, LocalJob } from './job-queue.js';
import { findUnservableRefusal } from './job-submit.js';

export interface JobSchedulerOptions {
  db: Db;
  deps: GatewayDeps;
  /** How long a job may wait for capacity before it fails (JOB_MAX_QUEUE_MS). */
  maxQueueMs: number;
  /** How long a result is kept after the job ends (JOB_RESULT_TTL_MS). */
  resultTtlMs: number;
  /** How often queued jobs look again at their key's limits and their deadline (account slots wake them through the admission queue). */
  pumpIntervalMs: number;
  /** Log line, usage and metrics of a finished job (the one bookkeeping exit, as for requests). */
  record: (outcome: RequestOutcome) => void;
  onError: (err: unknown) => void;
}

/**
 * Runs async jobs in this process: FIFO per key, round-robin across keys, each started when the
 * key's limiter admits it and an account slot is free, for up to `maxQueueMs`. A key's oldest job
 * waits for that slot in the admission queue, fairly with plain requests (it stays `queued`), and
 * starts holding it. A job runs exactly as a plain request (executeImageJob); its answer is sealed
 * under the job's capability and stored. Waiters (long polls) are woken when a job of theirs changes.
 */
export class JobScheduler implements JobQueue {
  private readonly queues = new Map<string, LocalJob[]>();
  private readonly running = new Map<string, LocalJob>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly finished = new Set<Promise<void>>();
  /** Keys whose oldest job waits in the admission queue for an account slot. */
  private readonly admitting = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private rotation = 0;
  private draining = false;

  constructor(private readonly opts: JobSchedulerOptions) {}

  /** Jobs waiting for capacity in this process, per key. */
  queuedCount(keyId: string): number {
    return this.queues.get(keyId)?.length ?? 0;
  }

  /** Takes a job already recorded as queued; it starts as soon as capacity allows. */
  enqueue(job: LocalJob): void {
    if (this.draining) throw new GatewayError('shutting_down', 'the gateway is shutting down; submit the job again');
    const queue = this.queues.get(job.keyId) ?? [];
    queue.push(job);
    this.queues.set(job.keyId, queue);
    this.pump();
  }

  /** Cancels a job of this process: a queued one ends at once, a running one has its upstream calls aborted. */
  async cancel(idHash: string): Promise<boolean> {
    const running = this.running.get(idHash);
    if (running) {
      running.controller.abort(new Error('job cancelled'));
      return true;
    }
    for (const queue of this.queues.values()) {
      const at = queue.findIndex((j) => j.capability.idHash === idHash);
      if (at < 0) continue;
      const [job] = queue.splice(at, 1);
      job!.controller.abort(new Error('job cancelled')); // out of the admission queue, if it waits there
      await this.endUnrun(job!, null);
      return true;
    }
    return false;
  }

  /** Resolves when a job of this process changes (started or ended), or after `ms`. */
  waitForChange(idHash: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(idHash) ?? new Set();
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(idHash);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      this.waiters.set(idHash, set);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Stops taking jobs: queued ones end `failed` (`shutting_down`, retryable), running ones may finish
   * within `graceMs`, then they are aborted and end `failed` (`shutting_down`) too.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    if (this.timer) clearInterval(this.timer);
    const queued = [...this.queues.values()].flat();
    this.queues.clear();
    for (const job of queued) job.controller.abort(new Error('gateway shutting down'));
    await Promise.all(
      queued.map((job) => this.endUnrun(job, new GatewayError('shutting_down', 'the gateway shut down before the job started; submit it again'))),
    );
    const all = Promise.all([...this.finished]);
    const deadline = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([all, deadline]);
    for (const job of this.running.values()) job.controller.abort(new Error('gateway shutting down'));
    await all;
  }

  /** Starts every queued job that can start now; keeps a timer running while any wait. */
  private pump(): void {
    const keys = [...this.queues.keys()];
    for (let i = 0; i < keys.length; i += 1) {
      const keyId = keys[(this.rotation + i) % keys.length]!;
      this.startHead(keyId);
    }
    this.rotation += 1;
    const waiting = [...this.queues.values()].some((q) => q.length > 0);
    if (waiting && !this.timer && !this.draining) {
      this.timer = setInterval(() => this.pump(), this.opts.pumpIntervalMs);
      this.timer.unref();
    } else if (!waiting && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Sends the key's oldest job to wait for an account slot once its key's limits allow; ends it if it can never start. */
  private startHead(keyId: string): void {
    const queue = this.queues.get(keyId);
    const job = queue?.[0];
    if (!queue || !job) return void this.queues.delete(keyId);
    if (this.admitting.has(keyId)) return;
    const { deps } = this.opts;
    const snapshot = deps.snapshots.current();
    if (!snapshot) return;
    const refusal = this.refusalOf(job, snapshot);
    if (refusal) {
      queue.shift();
      return void this.track(this.endUnrun(job, refusal));
    }
    const key = findKey(snapshot, keyId)!;
    const candidates = planFor(key, snapshot, deps).candidates;
    if (candidates.length === 0) return; // every account cools down: the timer looks again
    this.admitting.add(keyId);
    void this.admitKeyThenHead({ job, key, snapshot, candidates });
  }

  /** Takes the key's place (one script call with REDIS_URL), then waits for an account; a refusal leaves the job to the timer's next look. */
  private async admitKeyThenHead(head: { job: LocalJob; key: KeyRecord; snapshot: Snapshot; candidates: Candidate[] }): Promise<void> {
    const { deps } = this.opts;
    const { key } = head;
    const admission = await takeKeyPlace(deps, key);
    if (!admission.admitted) return void this.admitting.delete(key.id);
    await this.admitHead(head, admission.permit);
  }

  /**
   * Waits in the admission queue, in the key's turn beside plain requests, for a slot on one of the
   * job's accounts, then starts the job holding it. A job that ran out of time is ended by the pump
   * that follows (refusalOf); a cancelled one was ended by `cancel`.
   */
  private async admitHead(head: { job: LocalJob; key: KeyRecord; snapshot: Snapshot; candidates: Candidate[] }, keyPermit: Permit): Promise<void> {
    const { deps } = this.opts;
    const { job, key, candidates } = head;
    // A full queue (this key's plain requests fill it) is looked at again by the timer, not at once: no busy loop.
    let repump = true;
    const waiting = openWaitingTake(deps, key.id, candidates);
    try {
      const result = await deps.admission.wait<HeldSlot>({
        keyId: key.id,
        accountIds: candidates.map((c) => c.account.id),
        tryTake: waiting.tryTake,
        giveBack: (slot) => slot.permit.release(),
        signal: job.controller.signal,
        timeoutMs: job.enqueuedAt + this.opts.maxQueueMs - deps.now(),
        onQueued: waiting.joined,
      });
      waiting.ended(result.kind);
      deps.metrics.queueWait.observe({ result: result.kind }, result.waitedMs / 1000);
      repump = result.kind !== 'queue_full';
      const queue = this.queues.get(key.id);
      if (result.kind !== 'taken' || queue?.[0] !== job || this.draining) {
        if (result.kind === 'taken') result.value.permit.release();
        keyPermit.release();
        return;
      }
      queue.shift();
      // The wait may have outlasted the key or its accounts: a job refused now never starts.
      const now = deps.snapshots.current();
      const refusal = now ? this.refusalOf(job, now) : null;
      if (refusal) {
        result.value.permit.release();
        keyPermit.release();
        return void this.track(this.endUnrun(job, refusal));
      }
      this.track(this.run(job, head, keyPermit, result.value));
    } catch (err) {
      waiting.ended('aborted'); // a ticket left joined would go on being renewed, holding the key's shared order
      keyPermit.release();
      this.opts.onError(err);
    } finally {
      this.admitting.delete(key.id);
      if (repump && !this.draining) this.pump();
    }
  }

  /** Why a queued job can never start (key gone or switched off, no image account, waited too long), or null. */
  private refusalOf(job: LocalJob, snapshot: Snapshot): GatewayError | null {
    const key = findKey(snapshot, job.keyId);
    if (key?.status !== 'active') return new GatewayError('key_disabled', 'this API key was disabled before the job started');
    if (!key.imageEnabled) return new GatewayError('image_disabled', 'codex image generation is disabled for this key');
    const unservable = findUnservableRefusal(key, snapshot, this.opts.deps);
    if (unservable) return unservable;
    if (this.opts.deps.now() - job.enqueuedAt >= this.opts.maxQueueMs) {
      return new GatewayError('accounts_busy', `the job waited ${Math.round(this.opts.maxQueueMs / 1000)} s for a free account and was given up`);
    }
    return null;
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((err: unknown) => this.opts.onError(err))
      .finally(() => {
        this.finished.delete(tracked);
        this.pump();
      });
    this.finished.add(tracked);
  }

  private async run(job: LocalJob, head: { key: KeyRecord; snapshot: Snapshot }, keyPermit: Permit, slot: HeldSlot): Promise<void> {
    const { db, deps } = this.opts;
    const { key, snapshot } = head;
    const permits: Permit[] = [keyPermit, slot.permit];
    this.running.set(job.capability.idHash, job);
    try {
      if (!(await markJobRunning(db, job.capability.idHash, deps.now()))) return; // cancelled meanwhile
      this.wake(job.capability.idHash);
      job.outcome.startedAt = deps.now();
      job.outcome.key = key;
      const core = { deps, snapshot, outcome: job.outcome, permits, clientSignal: job.controller.signal, clientHeaders: job.clientHeaders };
      const waitMs = Math.max(0, job.enqueuedAt + this.opts.maxQueueMs - deps.now());
      const ran = await executeImageJob(core, { held: slot, waitMs }).catch((err: unknown): JobAnswer => errorAnswer(err));
      // Aborted by a shutdown rather than by its client: a retryable failure, not a cancellation.
      const answer =
        ran.kind === 'cancelled' && this.draining
          ? errorAnswer(new GatewayError('shutting_down', 'the gateway shut down while the job ran; submit it again'))
          : ran;
      for (const permit of permits) permit.release();
      await this.end(job, answer);
      this.opts.record(job.outcome);
    } finally {
      for (const permit of permits) permit.release();
      this.running.delete(job.capability.idHash);
    }
  }

  /**
   * Ends a job that never ran: refused (`why`), cancelled while queued (null), or dropped by a
   * shutdown. It still counts once, as a plain request refused before any account was asked does.
   */
  private async endUnrun(job: LocalJob, why: GatewayError | null): Promise<void> {
    job.outcome.ending = why ? { kind: 'exhausted', status: why.status, skips: [], refusal: why.code } : { kind: 'client_aborted' };
    try {
      await this.end(job, why ? errorAnswer(why) : { kind: 'cancelled' });
    } finally {
      this.opts.record(job.outcome); // counted even when the end could not be stored
    }
  }

  /** Stores a job's end (job-ending.ts), deletes its uploads, and wakes its waiters. */
  private async end(job: LocalJob, answer: JobAnswer): Promise<void> {
    try {
      await storeJobEnd(this.opts.db, job, answer, this.opts.deps.now(), this.opts.resultTtlMs);
    } finally {
      // A job that never ran (cancelled, refused, out of time) spends nothing: its reservation goes.
      job.outcome.budgetHold?.release();
      await job.cleanup();
      this.wake(job.capability.idHash);
    }
  }

  private wake(idHash: string): void {
    for (const wake of [...(this.waiters.get(idHash) ?? [])]) wake();
  }
}

const findKey = (snapshot: Snapshot, keyId: string): KeyRecord | undefined => [...snapshot.keysByHash.values()].find((k) => k.id === keyId);
