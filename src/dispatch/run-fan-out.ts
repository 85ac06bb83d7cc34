import type { FailoverResult } from './run-failover.js';

/** A final upstream answer of one part, as `runFailover` handed it over (its account permit still held). */
export type FinalResult = Extract<FailoverResult, { kind: 'final' }>;

/** How one part of a fanned-out request ended. */
export type PartResult<T> =
  | { kind: 'done'; value: T; attempts: FailoverResult['attempts']; skips: FailoverResult['skips'] }
  | Exclude<FailoverResult, { kind: 'final' }>;

export interface FanOutInput<T> {
  /** How many parts (images) to produce. */
  parts: number;
  signal: AbortSignal;
  /**
   * Runs one failover for a part: plans candidates afresh each time (so load ordering spreads the
   * parts over the accounts) and tries them in order.
   */
  failover: () => Promise<FailoverResult>;
  /**
   * Reads a part's final answer (2xx body or upstream error) and releases its account permit. The
   * permit is released by the time the promise settles, so a waiting sibling can take the slot.
   */
  consume: (result: FinalResult, part: number) => Promise<T>;
}

/**
 * Serves a request for `n` images as `n` one-image upstream requests in parallel, each failed over
 * like a plain request and each holding its own account permit, so per-account caps hold at the
 * upstream. A part that ran out of accounts while some were at their cap (`concurrency_blocked`)
 * and a sibling part still runs waits for that sibling to finish and tries again, rather than
 * failing: the request's own parts queue for the accounts' slots, and a part whose account failed
 * can still fail over to an account its siblings were using. Each wait needs a sibling to finish,
 * so a part tries at most n times. Results come back in part order.
 */
export async function runFanOut<T>(input: FanOutInput<T>): Promise<PartResult<T>[]> {
  const finished = new FinishNotifier();
  let running = 0;
  const runPart = async (part: number): Promise<PartResult<T>> => {
    running += 1;
    const attempts: FailoverResult['attempts'] = [];
    const skips: FailoverResult['skips'] = [];
    try {
      for (;;) {
        const result = await input.failover();
        attempts.push(...result.attempts);
        skips.push(...result.skips);
        if (result.kind === 'final') {
          const value = await input.consume(result, part);
          return { kind: 'done', value, attempts, skips };
        }
        const blockedByBusy = result.kind === 'exhausted' && result.skips.includes('concurrency_blocked');
        if (!blockedByBusy || running <= 1 || input.signal.aborted) return { ...result, attempts, skips };
        // Every account is at its cap and a sibling holds a slot: wait for it, not counted as running.
        running -= 1;
        await finished.next(input.signal);
        running += 1;
      }
    } finally {
      running -= 1;
      finished.notify();
    }
  };
  return Promise.all(Array.from({ length: input.parts }, (_, part) => runPart(part)));
}

/** Lets waiters sleep until the next part finishes (or the client goes away). */
class FinishNotifier {
  private waiters: Array<() => void> = [];

  next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
