import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdmissionQueue, type AdmissionResult } from '../../../src/limits/admission-queue.js';

/** Free slots per account, taken by waiters and released by the test (a release notifies the queue, as the limiter does). */
class Slots {
  readonly free = new Map<string, number>();
  takes = 0;
  constructor(
    private readonly queue: AdmissionQueue,
    initial: Record<string, number>,
  ) {
    for (const [id, n] of Object.entries(initial)) this.free.set(id, n);
  }
  take(ids: readonly string[]): string | null {
    this.takes += 1;
    const id = ids.find((a) => (this.free.get(a) ?? 0) > 0);
    if (id === undefined) return null;
    this.free.set(id, this.free.get(id)! - 1);
    return id;
  }
  release(id: string): void {
    this.free.set(id, (this.free.get(id) ?? 0) + 1);
    this.queue.notify([id]);
  }
}

function setup(initial: Record<string, number>, maxQueuedPerKey = 10) {
  const sizes: number[] = [];
  const queue = new AdmissionQueue({ maxQueuedPerKey, onQueuedChange: (n) => sizes.push(n) });
  const slots = new Slots(queue, initial);
  const served: string[] = [];
  const enqueue = (label: string, keyId: string, accountIds: string[], more: { signal?: AbortSignal; timeoutMs?: number } = {}) =>
    queue
      .wait({
        keyId,
        accountIds,
        tryTake: async () => slots.take(accountIds),
        giveBack: (id) => slots.release(id),
        signal: more.signal ?? new AbortController().signal,
        timeoutMs: more.timeoutMs ?? 60_000,
      })
      .then((result) => {
        if (result.kind === 'taken') served.push(label);
        return result;
      });
  return { queue, slots, served, sizes, enqueue };
}

/** Lets the queue's drain (a chain of resolved promises) run to its end. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

afterEach(() => vi.useRealTimers());

describe('AdmissionQueue', () => {
  it('is FIFO within a key: each freed slot goes to the oldest waiter', async () => {
    const { slots, served, enqueue, queue } = setup({ a: 0 });
    const waits = ['k1', 'k2', 'k3'].map((label) => enqueue(label, 'k', ['a']));
    await settle();
    expect(queue.queued('k')).toBe(3);
    for (let i = 0; i < 3; i += 1) {
      slots.release('a');
      await settle();
    }
    await Promise.all(waits);
    expect(served).toEqual(['k1', 'k2', 'k3']);
  });

  it('is round-robin across keys: one key’s burst does not starve another key', async () => {
    const { slots, served, enqueue } = setup({ a: 0 });
    const waits = [...['x1', 'x2', 'x3'].map((l) => enqueue(l, 'x', ['a'])), ...['y1', 'y2', 'y3'].map((l) => enqueue(l, 'y', ['a']))];
    await settle();
    for (let i = 0; i < 6; i += 1) {
      slots.release('a');
      await settle();
    }
    await Promise.all(waits);
    expect(served).toEqual(['x1', 'y1', 'x2', 'y2', 'x3', 'y3']);
  });

  it('serves a new waiter at once when capacity is already free (no notify needed)', async () => {
    const { enqueue } = setup({ a: 1 });
    const result = await enqueue('only', 'k', ['a']);
    expect(result).toMatchObject({ kind: 'taken', value: 'a' });
  });

  it('nothing is tried without a notify: no polling', async () => {
    const { slots, enqueue } = setup({ a: 0 });
    const wait = enqueue('w', 'k', ['a']);
    await settle();
    const takes = slots.takes;
    // Capacity appears behind the queue's back: nothing wakes the waiter until someone says so.
    slots.free.set('a', 1);
    await settle();
    await settle();
    expect(slots.takes).toBe(takes);
    slots.release('b'); // another account: not this waiter's
    await settle();
    expect(slots.takes).toBe(takes);
    slots.release('a');
    expect(await wait).toMatchObject({ kind: 'taken' });
  });

  it('a waiter whose client disconnects leaves at once; the next waiter gets the slot', async () => {
    const { slots, served, enqueue, queue } = setup({ a: 0 });
    const leaving = new AbortController();
    const first = enqueue('gone', 'k', ['a'], { signal: leaving.signal });
    const second = enqueue('next', 'k', ['a']);
    await settle();
    leaving.abort();
    expect(queue.queued('k')).toBe(1);
    expect(await first).toMatchObject({ kind: 'aborted' });
    slots.release('a');
    expect(await second).toMatchObject({ kind: 'taken' });
    expect(served).toEqual(['next']);
  });

  it('an already aborted signal is not queued', async () => {
    const { enqueue, queue } = setup({ a: 0 });
    const controller = new AbortController();
    controller.abort();
    expect(await enqueue('w', 'k', ['a'], { signal: controller.signal })).toEqual({ kind: 'aborted', waitedMs: 0 });
    expect(queue.queued()).toBe(0);
  });

  it('refuses a waiter past the per-key cap, without touching other keys', async () => {
    const { enqueue, queue } = setup({ a: 0 }, 2);
    void enqueue('1', 'k', ['a']);
    void enqueue('2', 'k', ['a']);
    expect(await enqueue('3', 'k', ['a'])).toEqual({ kind: 'queue_full', waitedMs: 0 });
    expect(queue.queued('k')).toBe(2);
    void enqueue('other', 'j', ['a']);
    expect(queue.queued('j')).toBe(1);
  });

  it('a cap of 0 refuses every wait', async () => {
    const { enqueue } = setup({ a: 0 }, 0);
    expect((await enqueue('w', 'k', ['a'])).kind).toBe('queue_full');
  });

  it('times out after timeoutMs and leaves the queue', async () => {
    vi.useFakeTimers();
    const { enqueue, queue } = setup({ a: 0 });
    let result: AdmissionResult<unknown> | null = null;
    void enqueue('w', 'k', ['a'], { timeoutMs: 5_000 }).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(result).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toEqual({ kind: 'timeout', waitedMs: 5_000 });
    expect(queue.queued()).toBe(0);
  });

  it('within a key the head is not overtaken, even by a waiter whose account is free', async () => {
    const { slots, served, enqueue } = setup({ a: 0, b: 0 });
    const head = enqueue('head-on-a', 'k', ['a']);
    const second = enqueue('second-on-b', 'k', ['b']);
    await settle();
    slots.release('b');
    await settle();
    expect(served).toEqual([]);
    slots.release('a');
    await Promise.all([head, second]);
    // Once the head is served, the free slot on b goes to the second at once.
    expect(served).toEqual(['head-on-a', 'second-on-b']);
  });

  it('when a blocked head leaves, the waiter behind it is tried at once', async () => {
    const { slots, served, enqueue } = setup({ a: 0, b: 0 });
    const leaving = new AbortController();
    void enqueue('head-on-a', 'k', ['a'], { signal: leaving.signal });
    const second = enqueue('second-on-b', 'k', ['b']);
    await settle();
    slots.release('b');
    await settle();
    expect(served).toEqual([]);
    leaving.abort();
    expect(await second).toMatchObject({ kind: 'taken', value: 'b' });
  });

  it('a head whose accounts are still full does not block the heads of other keys', async () => {
    const { slots, served, enqueue } = setup({ a: 0, b: 0 });
    void enqueue('x-on-a', 'x', ['a']);
    const y = enqueue('y-on-b', 'y', ['b']);
    await settle();
    slots.release('b');
    await y;
    expect(served).toEqual(['y-on-b']);
  });

  it('notify() without ids tries every waiter', async () => {
    const { slots, queue, enqueue } = setup({ a: 0 });
    const wait = enqueue('w', 'k', ['a']);
    await settle();
    slots.free.set('a', 1);
    queue.notify();
    expect(await wait).toMatchObject({ kind: 'taken' });
  });

  it('runs one drain at a time: takes are never concurrent, and a notify during a take is not lost', async () => {
    const queue = new AdmissionQueue({ maxQueuedPerKey: 10 });
    let inTake = 0;
    let maxInTake = 0;
    let free = 0;
    const gates: Array<() => void> = [];
    const wait = (keyId: string) =>
      queue.wait({
        keyId,
        accountIds: ['a'],
        tryTake: async () => {
          inTake += 1;
          maxInTake = Math.max(maxInTake, inTake);
          await new Promise<void>((resolve) => gates.push(resolve));
          inTake -= 1;
          if (free === 0) return null;
          free -= 1;
          return 'a';
        },
        giveBack: () => undefined,
        signal: new AbortController().signal,
        timeoutMs: 60_000,
      });
    const w1 = wait('x');
    const w2 = wait('y');
    // w1's take is under way; w2's arrival and two notifies must wait for it.
    queue.notify(['a']);
    queue.notify(['a']);
    expect(gates).toHaveLength(1);
    free = 2;
    while (inTake > 0 || gates.length > 0) {
      gates.shift()?.();
      await settle();
    }
    expect(await w1).toMatchObject({ kind: 'taken' });
    expect(await w2).toMatchObject({ kind: 'taken' });
    expect(maxInTake).toBe(1);
  });

  it('gives back what a take got for a waiter that left while it was under way', async () => {
    const queue = new AdmissionQueue({ maxQueuedPerKey: 10 });
    const given: string[] = [];
    let open!: () => void;
    const controller = new AbortController();
    const wait = queue.wait({
      keyId: 'k',
      accountIds: ['a'],
      tryTake: () => new Promise<string>((resolve) => (open = () => resolve('slot-1'))),
      giveBack: (value) => given.push(value),
      signal: controller.signal,
      timeoutMs: 60_000,
    });
    controller.abort();
    expect(await wait).toMatchObject({ kind: 'aborted' });
    open();
    await settle();
    expect(given).toEqual(['slot-1']);
  });

  it('a take that throws fails its own wait only', async () => {
    const { slots, enqueue, queue } = setup({ a: 0 });
    const broken = queue.wait({
      keyId: 'x',
      accountIds: ['a'],
      tryTake: () => Promise.reject(new Error('coordination down')),
      giveBack: () => undefined,
      signal: new AbortController().signal,
      timeoutMs: 60_000,
    });
    await expect(broken).rejects.toThrow('coordination down');
    const fine = enqueue('fine', 'y', ['a']);
    slots.release('a');
    expect(await fine).toMatchObject({ kind: 'taken' });
  });

  it('an onQueued hook that throws fails the wait and leaves nothing queued', async () => {
    const { queue } = setup({ a: 0 });
    const wait = queue.wait({
      keyId: 'k',
      accountIds: ['a'],
      tryTake: async () => null,
      giveBack: () => undefined,
      signal: new AbortController().signal,
      timeoutMs: 60_000,
      onQueued: () => {
        throw new Error('socket gone');
      },
    });
    await expect(wait).rejects.toThrow('socket gone');
    expect(queue.queued()).toBe(0);
  });

  it('reports the queue length on every change, and calls onQueued only for queued waiters', async () => {
    const { slots, sizes, queue } = setup({ a: 0 }, 1);
    const queuedCalls: string[] = [];
    const make = (label: string) =>
      queue.wait({
        keyId: 'k',
        accountIds: ['a'],
        tryTake: async () => slots.take(['a']),
        giveBack: () => undefined,
        signal: new AbortController().signal,
        timeoutMs: 60_000,
        onQueued: () => queuedCalls.push(label),
      });
    const first = make('first');
    expect((await make('refused')).kind).toBe('queue_full');
    slots.release('a');
    await first;
    expect(queuedCalls).toEqual(['first']);
    expect(sizes).toEqual([1, 0]);
  });
});
