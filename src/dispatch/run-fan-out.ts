import type { Candidate } from './plan-candidates.js';
import type { FailoverResult, SlotWait, WaitForSlot } from './run-failover.js';

/** A final upstream answer of one part, as `runFailover` handed it over (its account permit still held). */
export type FinalResult = Extract<FailoverResult, { kind: 'final' }>;

/** How one part of a fanned-out request ended. */
export type PartResult<T> =
  | { kind: 'done'; value: T; attempts: FailoverResult['attempts']; skips: FailoverResult['skips'] }
  | Exclude<FailoverResult, { kind: 'final' }>;

/** What a part's wait for a slot is given by runFanOut. */
export interface PartWaitHooks {
  /** Which part waits (0-based). */
  part: number;
  /** Aborts when the client goes away, or when the part's time is up and no sibling holds a slot. */
  signal: AbortSignal;
  /** Must be called synchronously when the slot is taken, before the wait settles: the part counts as running again from then. */
  onTaken: () => void;
}

export interface FanOutInput<T> {
  /** How many parts (images) to produce. */
  parts: number;
  signal: AbortSignal;
  /**
   * Runs one failover for a part: plans candidates afresh (so load ordering spreads the parts over
   * the accounts), tries them in order, and waits for a capped account with `waitForSlot` (pass it
   * to runFailover as its `waitForSlot`).
   */
  failover: (waitForSlot: WaitForSlot) => Promise<FailoverResult>;
  /** Waits for a slot on one of `blocked` (the admission queue) until `hooks.signal` aborts. */
  waitForSlot: (blocked: readonly Candidate[], hooks: PartWaitHooks) => Promise<SlotWait>;
  /** How long one wait of a part may last while no sibling holds a slot (ms; 0 = only while a sibling does). */
  waitMs: number;
  /**
   * Reads a part's final answer (2xx body or upstream error) and releases its account permit. The
   * permit is released by the time the promise settles, so a waiting sibling can take the slot.
   */
  consume: (result: FinalResult, part: number) => Promise<T>;
}

/**
 * Serves a request for `n` images as `n` one-image upstream requests in parallel, each failed over
 * like a plain request and each holding its own account permit, so per-account caps hold at the
 * upstream. A part that ran out of accounts while some were at their cap waits in the admission
 * queue, as any request does, for up to `waitMs` per wait, and for as long as a sibling part
 * still holds a slot (that sibling's end frees one): the request's own parts queue for the
 * accounts' slots, and a part whose account failed can still fail over to an account its siblings
 * were using. Results come back in part order.
 */
export async function runFanOut<T>(input: FanOutInput<T>): Promise<PartResult<T>[]> {
  const parts = new RunningParts();
  const waitForSlot = async (blocked: readonly Candidate[], part: number): Promise<SlotWait> => {
    const wait = parts.startWaiting(input.waitMs);
    try {
      // No time to wait and no sibling to wait for: the instant answer, without touching the queue.
      if (wait.giveUp.aborted) return { kind: 'gave_up' };
      return await input.waitForSlot(blocked, { part, signal: AbortSignal.any([input.signal, wait.giveUp]), onTaken: wait.taken });
    } finally {
      wait.end();
    }
  };
  const runPart = async (part: number): Promise<PartResult<T>> => {
    parts.started();
    try {
      const result = await input.failover((blocked) => waitForSlot(blocked, part));
      if (result.kind !== 'final') return result;
      const value = await input.consume(result, part);
      return { kind: 'done', value, attempts: result.attempts, skips: result.skips };
    } finally {
      parts.ended();
    }
  };
  return Promise.all(Array.from({ length: input.parts }, (_, part) => runPart(part)));
}

/**
 * Counts a request's parts that hold or try an account (a waiting part does not count), and ends a
 * waiting part's wait once its time is up while no sibling is running: only a running sibling's
 * end is sure to free a slot for it.
 */
class RunningParts {
  private running = 0;
  private readonly checks = new Set<() => void>();

  started(): void {
    this.running += 1;
  }

  ended(): void {
    this.running -= 1;
    for (const check of [...this.checks]) check();
  }

  /** One part starts waiting for `waitMs` (0 = only while a sibling runs); `taken` counts it running again at once. */
  startWaiting(waitMs: number): { giveUp: AbortSignal; taken: () => void; end: () => void } {
    this.running -= 1;
    let counted = false;
    let expired = waitMs <= 0;
    const controller = new AbortController();
    const check = () => {
      if (expired && this.running === 0) controller.abort();
    };
    const timer = expired
      ? null
      : setTimeout(() => {
          expired = true;
          check();
        }, waitMs);
    this.checks.add(check);
    check();
    return {
      giveUp: controller.signal,
      taken: () => {
        counted = true;
        this.running += 1;
      },
      end: () => {
        if (timer) clearTimeout(timer);
        this.checks.delete(check);
        if (!counted) this.running += 1;
      },
    };
  }
}
