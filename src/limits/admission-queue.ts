/** What one request waiting for capacity gives the queue. */
export interface AdmissionWaitOptions<T> {
  /** The fairness group (a key id): FIFO within it, round-robin across groups. */
  keyId: string;
  /** The accounts that could serve this waiter: a `notify` naming none of them does not try it (empty = any). */
  accountIds: readonly string[];
  /**
   * Tries to take capacity for this waiter; null while everything it could use is still full. One
   * async step, so a shared admission (one script call on a coordination server) fits as well as
   * the in-process limiter. Called by the queue only, one waiter at a time, in fair order.
   */
  tryTake: () => Promise<T | null>;
  /** Gives back what `tryTake` took for a waiter that left while the take was under way. Must not throw. */
  giveBack: (value: T) => void;
  /** Aborts when the client goes away: the waiter leaves the queue at once. */
  signal: AbortSignal;
  /** Longest wait (ms); Infinity = until taken or aborted. */
  timeoutMs: number;
  /** Told once, synchronously, when the waiter is in the queue (not when it is refused as full): a stream starts its answer here. */
  onQueued?: () => void;
}

/** How a wait ended; `waitedMs` is the time spent in the queue. */
export type AdmissionResult<T> =
  | { kind: 'taken'; value: T; waitedMs: number }
  | { kind: 'timeout'; waitedMs: number }
  | { kind: 'aborted'; waitedMs: number }
  /** The key already had `maxQueuedPerKey` waiters; nothing was queued. */
  | { kind: 'queue_full'; waitedMs: 0 };

export interface AdmissionQueueOptions {
  /** Most waiters one key may have queued at once; past it a wait is refused (`queue_full`). */
  maxQueuedPerKey: number;
  now?: () => number;
  /** Told the number of waiters after every change (a gauge). Must not throw. */
  onQueuedChange?: (queued: number) => void;
}

interface Waiter {
  keyId: string;
  accountIds: ReadonlySet<string>;
  tryTake: () => Promise<unknown>;
  giveBack: (value: unknown) => void;
  enqueuedAt: number;
  /** True once it left (taken, timed out, aborted, failed): an answer still under way is given back. */
  left: boolean;
  settle: (result: AdmissionResult<unknown>) => void;
  fail: (err: unknown) => void;
}

/** Accounts whose capacity may have freed since the last drain: some, or every one. */
type Dirty = Set<string> | 'all';

/**
 * Requests waiting for an account slot, served fairly: FIFO within a key, round-robin across keys
 * (the key served last goes to the back), so one key's burst cannot starve another's requests.
 * Nothing polls: `notify` says capacity may have freed (a local permit released, or a message from
 * another instance) and a new waiter triggers the same drain. One drain runs at a time, trying each
 * key's head in fair order; a head that still finds its accounts full stays first in its key (no
 * overtaking within a key) but does not hold up other keys. Knows nothing of HTTP or accounts
 * beyond their ids: what "taking" means is the waiter's `tryTake`.
 */
export class AdmissionQueue {
  /** Waiters per key, oldest first; the Map's order is the round-robin order. */
  private readonly byKey = new Map<string, Waiter[]>();
  private size = 0;
  private draining = false;
  private dirty: Dirty | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: AdmissionQueueOptions) {
    if (!Number.isInteger(opts.maxQueuedPerKey) || opts.maxQueuedPerKey < 0) throw new RangeError('maxQueuedPerKey must be an integer >= 0');
    this.now = opts.now ?? Date.now;
  }

  /** Queues a waiter until its `tryTake` succeeds, its time is up or its client leaves; refuses at once when its key's queue is full. */
  wait<T>(opts: AdmissionWaitOptions<T>): Promise<AdmissionResult<T>> {
    if (opts.signal.aborted) return Promise.resolve({ kind: 'aborted', waitedMs: 0 });
    const queue = this.byKey.get(opts.keyId) ?? [];
    if (queue.length >= this.opts.maxQueuedPerKey) return Promise.resolve({ kind: 'queue_full', waitedMs: 0 });
    return new Promise<AdmissionResult<T>>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        keyId: opts.keyId,
        accountIds: new Set(opts.accountIds),
        tryTake: opts.tryTake,
        giveBack: opts.giveBack as (value: unknown) => void,
        enqueuedAt: this.now(),
        left: false,
        settle: (result) => {
          cleanup();
          resolve(result as AdmissionResult<T>);
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      const onAbort = () => this.leave(waiter, 'aborted');
      opts.signal.addEventListener('abort', onAbort, { once: true });
      // setTimeout takes at most 2^31-1 ms; anything longer (or Infinity) waits for a take or an abort.
      if (opts.timeoutMs < MAX_TIMER_MS) timer = setTimeout(() => this.leave(waiter, 'timeout'), Math.max(0, opts.timeoutMs));
      queue.push(waiter);
      this.byKey.set(opts.keyId, queue);
      this.resize(1);
      try {
        opts.onQueued?.();
      } catch (err) {
        // A caller whose own hook failed is not left waiting for nobody.
        this.remove(waiter);
        return waiter.fail(err);
      }
      // Capacity may already be free (freed between the caller's own try and now): try it, in fair order.
      this.notify(opts.accountIds.length > 0 ? opts.accountIds : undefined);
    });
  }

  /**
   * Says capacity may have freed on these accounts (all when omitted): waiters that could use them
   * are tried, in fair order. Called by the local limiter on every release, and by a message from
   * another instance. Cheap when nobody waits.
   */
  notify(accountIds?: readonly string[]): void {
    if (this.size === 0) return;
    this.dirty = mergeDirty(this.dirty, accountIds === undefined ? 'all' : new Set(accountIds));
    if (!this.draining) void this.drain();
  }

  /** Waiters queued now, for one key or for all. */
  queued(keyId?: string): number {
    return keyId === undefined ? this.size : (this.byKey.get(keyId)?.length ?? 0);
  }

  /**
   * Tries the head of each key whose accounts were notified, in round-robin order, one take at a
   * time. A key whose head got capacity goes to the back of the order; a round that served anyone
   * is repeated (more may be free), and notifications that arrived meanwhile start another.
   */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.dirty !== null) {
        const dirty = this.dirty;
        this.dirty = null;
        let served = false;
        for (const keyId of [...this.byKey.keys()]) {
          const head = this.byKey.get(keyId)?.[0];
          if (!head || !wants(head, dirty)) continue;
          if (await this.tryHead(head)) served = true;
        }
        if (served) this.dirty = mergeDirty(this.dirty, dirty);
      }
    } finally {
      this.draining = false;
    }
  }

  /** One take for a key's head: true when it was served (and its key moved to the back). */
  private async tryHead(head: Waiter): Promise<boolean> {
    let value: unknown;
    try {
      value = await head.tryTake();
    } catch (err) {
      if (!head.left) {
        this.remove(head);
        head.fail(err);
      }
      return false;
    }
    if (value === null) return false;
    if (head.left) {
      // It left (client gone, time up) while the take was under way: the capacity goes back.
      try {
        head.giveBack(value);
      } catch {
        // giveBack must not throw; a faulty one must not stop the drain for everyone else.
      }
      return false;
    }
    this.remove(head);
    const queue = this.byKey.get(head.keyId);
    if (queue) {
      this.byKey.delete(head.keyId);
      this.byKey.set(head.keyId, queue);
      // The new head may have been passed over while the old one blocked it: try it too.
      this.dirty = mergeDirty(this.dirty, queue[0]!.accountIds.size > 0 ? new Set(queue[0]!.accountIds) : 'all');
    }
    head.settle({ kind: 'taken', value, waitedMs: this.now() - head.enqueuedAt });
    return true;
  }

  /** A waiter leaves before being served: out of the queue at once, its wait answered. */
  private leave(waiter: Waiter, kind: 'timeout' | 'aborted'): void {
    if (waiter.left) return;
    const wasHead = this.byKey.get(waiter.keyId)?.[0] === waiter;
    this.remove(waiter);
    waiter.settle({ kind, waitedMs: this.now() - waiter.enqueuedAt });
    // The next waiter of its key may have been held back only by this one.
    const next = wasHead ? this.byKey.get(waiter.keyId)?.[0] : undefined;
    if (next) this.notify(next.accountIds.size > 0 ? [...next.accountIds] : undefined);
  }

  private remove(waiter: Waiter): void {
    if (waiter.left) return;
    waiter.left = true;
    const queue = this.byKey.get(waiter.keyId);
    const at = queue?.indexOf(waiter) ?? -1;
    if (!queue || at < 0) return;
    queue.splice(at, 1);
    if (queue.length === 0) this.byKey.delete(waiter.keyId);
    this.resize(-1);
  }

  private resize(by: number): void {
    this.size += by;
    try {
      this.opts.onQueuedChange?.(this.size);
    } catch {
      // A gauge must never break admission.
    }
  }
}

/** Longest delay setTimeout honours (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

function mergeDirty(a: Dirty | null, b: Dirty): Dirty {
  if (a === null) return b;
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...a, ...b]);
}

function wants(waiter: Waiter, dirty: Dirty): boolean {
  if (dirty === 'all' || waiter.accountIds.size === 0) return true;
  for (const id of waiter.accountIds) if (dirty.has(id)) return true;
  return false;
}
