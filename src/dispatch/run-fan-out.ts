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
  let running = 0;
  const checks = new Set<() => void>();
  const waitForSlot = async (blocked: readonly Candidate[], part: number): Promise<SlotWait> => {
    running -= 1; // a waiting part holds nothing
    let counted = false;
    const giveUp = new AbortController();
    let expired = input.waitMs <= 0;
    const check = () => {
      if (expired && running === 0) giveUp.abort();
    };
    const expire = () => {
      expired = true;
      check();
    };
    const timer = expired ? null : setTimeout(expire, input.waitMs);
    checks.add(check);
    check();
    try {
      const onTaken = () => {
        counted = true;
        running += 1;
      };
      return await input.waitForSlot(blocked, { part, signal: AbortSignal.any([input.signal, giveUp.signal]), onTaken });
    } finally {
      if (timer) clearTimeout(timer);
      checks.delete(check);
      if (!counted) running += 1;
    }
  };
  const runPart = async (part: number): Promise<PartResult<T>> => {
    running += 1;
    try {
      const result = await input.failover((blocked) => waitForSlot(blocked, part));
      if (result.kind !== 'final') return result;
      const value = await input.consume(result, part);
      return { kind: 'done', value, attempts: result.attempts, skips: result.skips };
    } finally {
      running -= 1;
      for (const check of [...checks]) check();
    }
  };
  return Promise.all(Array.from({ length: input.parts }, (_, part) => runPart(part)));
}
