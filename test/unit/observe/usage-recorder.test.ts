import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildDelta, createUsageRecorder, type UsageOutcome, type UsageRecorder } from '../../../src/observe/usage-recorder.js';
import type { KeyUsageDelta, UsageRollupDelta, UsageRollupFacts } from '../../../src/store/types.js';

const HOUR = 3_600_000;
const FACTS: UsageRollupFacts = {
  hourStart: HOUR,
  accountId: 'acct_1',
  model: 'gpt-image-1',
  endpoint: 'generations',
  failureClass: null,
  upstreamBytes: 100,
  latencyMs: 700,
  unpriced: false,
  imageInputTokens: 0,
};

type Totals = Omit<KeyUsageDelta, 'keyId'>;

/** A fake store: sums applied deltas per key, like the real increment-only UPDATE. */
function createFakeStore(opts: { failWhen?: (call: number) => boolean; microtasksOnly?: boolean } = {}) {
  const totals = new Map<string, Totals>();
  let calls = 0;
  let active = 0;
  let maxActive = 0;
  const applied: KeyUsageDelta[][] = [];
  const apply = async (deltas: KeyUsageDelta[]): Promise<void> => {
    const call = ++calls;
    active++;
    maxActive = Math.max(maxActive, active);
    try {
      for (let i = 0; i < call % 4; i++) await (opts.microtasksOnly ? Promise.resolve() : new Promise((r) => setImmediate(r)));
      if (opts.failWhen?.(call)) throw new Error(`db down (call ${call})`);
      applied.push(deltas.map((d) => ({ ...d })));
      for (const d of deltas) {
        const t = totals.get(d.keyId);
        totals.set(d.keyId, t ? sumTotals(t, d) : withoutKey(d));
      }
    } finally {
      active--;
    }
  };
  return { apply, totals, applied, calls: () => calls, maxActive: () => maxActive };
}

const withoutKey = ({ keyId: _k, ...rest }: KeyUsageDelta): Totals => rest;
const sumTotals = (a: Totals, b: Totals): Totals => ({
  requests: a.requests + b.requests,
  successes: a.successes + b.successes,
  images: a.images + b.images,
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  totalTokens: a.totalTokens + b.totalTokens,
  usageMissing: a.usageMissing + b.usageMissing,
  estimatedCostMicros: a.estimatedCostMicros + b.estimatedCostMicros,
  lastUsedAt: Math.max(a.lastUsedAt, b.lastUsedAt),
});

const ok = (totalTokens: number | null, images = 1): UsageOutcome => ({
  success: true,
  images,
  inputTokens: totalTokens === null ? null : 1,
  outputTokens: totalTokens === null ? null : totalTokens - 1,
  totalTokens,
  // An estimate of 1,000 micro-USD per image, so costs show up in every sum.
  estimatedCostMicros: images * 1_000,
  rollup: FACTS,
});

const recorders: UsageRecorder[] = [];
function makeRecorder(opts: Parameters<typeof createUsageRecorder>[0]): UsageRecorder {
  const r = createUsageRecorder({ closeRetryDelayMs: 0, ...opts });
  recorders.push(r);
  return r;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(recorders.splice(0).map((r) => r.close()));
});

describe('buildDelta', () => {
  it.each([
    { name: 'success with usage', outcome: ok(42, 2), expected: { successes: 1, images: 2, totalTokens: 42, usageMissing: 0 } },
    { name: 'success without usage', outcome: ok(null), expected: { successes: 1, images: 1, totalTokens: 0, usageMissing: 1 } },
    { name: 'failure without usage', outcome: { ...ok(null, 0), success: false }, expected: { successes: 0, images: 0, totalTokens: 0, usageMissing: 0 } },
    { name: 'success with zero tokens', outcome: ok(0), expected: { successes: 1, totalTokens: 0, usageMissing: 0 } },
    {
      name: 'bad numbers',
      outcome: { success: true, images: -3, inputTokens: Number.NaN, outputTokens: 2.7, totalTokens: -1, estimatedCostMicros: -5, rollup: FACTS },
      expected: { images: 0, inputTokens: 0, outputTokens: 2, totalTokens: 0, usageMissing: 0, estimatedCostMicros: 0 },
    },
    {
      name: 'a fractional cost',
      outcome: { ...ok(42, 2), estimatedCostMicros: 12.9 },
      expected: { estimatedCostMicros: 12 },
    },
  ])('$name', ({ outcome, expected }) => {
    expect(buildDelta('k', outcome, 5)).toMatchObject({ keyId: 'k', requests: 1, lastUsedAt: 5, ...expected });
  });
});

describe('createUsageRecorder', () => {
  it('merges per key and applies one delta per key on flush', async () => {
    const store = createFakeStore();
    let nowMs = 100;
    const recorder = makeRecorder({ apply: store.apply, flushIntervalMs: 60_000, now: () => nowMs });
    recorder.record('a', ok(10));
    nowMs = 300;
    recorder.record('a', ok(null));
    nowMs = 200;
    recorder.record('b', {
      success: false,
      images: 0,
      inputTokens: null,
      outputTokens: null,
      totalTokens: null,
      estimatedCostMicros: 0,
      rollup: { ...FACTS, failureClass: 'upstream' },
    });
    expect(recorder.pendingUsage('a').tokens).toBe(10);
    await recorder.flush();
    expect(store.applied).toEqual([
      [
        {
          keyId: 'a',
          requests: 2,
          successes: 2,
          images: 2,
          inputTokens: 1,
          outputTokens: 9,
          totalTokens: 10,
          usageMissing: 1,
          estimatedCostMicros: 2_000,
          lastUsedAt: 300,
        },
        {
          keyId: 'b',
          requests: 1,
          successes: 0,
          images: 0,
          inputTokens: 0,
          outputTokens: 0,
          totalTokens: 0,
          usageMissing: 0,
          estimatedCostMicros: 0,
          lastUsedAt: 200,
        },
      ],
    ]);
    expect(recorder.pendingUsage('a').tokens).toBe(0);
    await recorder.flush();
    expect(store.calls()).toBe(1);
  });

  it('re-merges a failed flush so the next flush applies everything once', async () => {
    const store = createFakeStore({ failWhen: (call) => call === 1 });
    const errors: unknown[] = [];
    const recorder = makeRecorder({ apply: store.apply, flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
    recorder.record('a', ok(10));
    await expect(recorder.flush()).rejects.toThrow('db down');
    expect(errors).toHaveLength(1);
    expect(recorder.pendingUsage('a').tokens).toBe(10);
    recorder.record('a', ok(5));
    await recorder.flush();
    expect(store.totals.get('a')).toMatchObject({ requests: 2, totalTokens: 15 });
    expect(recorder.pendingUsage('a').tokens).toBe(0);
  });

  it('counts in-flight tokens in pendingUsage until apply resolves', async () => {
    let release!: () => void;
    const apply = vi.fn(() =>
      apply.mock.calls.length > 1
        ? Promise.resolve()
        : new Promise<void>((r) => {
            release = r;
          }),
    );
    const recorder = makeRecorder({ apply, flushIntervalMs: 60_000 });
    recorder.record('a', ok(10));
    const flushed = recorder.flush();
    await Promise.resolve();
    expect(apply).toHaveBeenCalledTimes(1);
    recorder.record('a', ok(7));
    expect(recorder.pendingUsage('a').tokens).toBe(17);
    release();
    await flushed;
    expect(recorder.pendingUsage('a').tokens).toBe(7);
  });

  it('keeps exact totals under 50 concurrent record/flush interleavings with a flaky store', async () => {
    const store = createFakeStore({ failWhen: (call) => call % 3 === 0 });
    const recorder = makeRecorder({ apply: store.apply, flushIntervalMs: 60_000, now: () => 1_000 });
    const keys = ['a', 'b', 'c'];
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        for (let y = 0; y < i % 5; y++) await new Promise((r) => setImmediate(r));
        recorder.record(keys[i % 3]!, i % 7 === 0 ? ok(null) : ok(i + 1));
        await recorder.flush().catch(() => undefined);
      }),
    );
    await recorder.close();
    expect(store.maxActive()).toBe(1);
    for (const [k, key] of keys.entries()) {
      const mine = Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 3 === k);
      expect(store.totals.get(key), key).toEqual({
        requests: mine.length,
        successes: mine.length,
        images: mine.length,
        inputTokens: mine.filter((i) => i % 7 !== 0).length,
        outputTokens: mine.filter((i) => i % 7 !== 0).reduce((s, i) => s + i, 0),
        totalTokens: mine.filter((i) => i % 7 !== 0).reduce((s, i) => s + i + 1, 0),
        usageMissing: mine.filter((i) => i % 7 === 0).length,
        estimatedCostMicros: mine.length * 1_000,
        lastUsedAt: 1_000,
      });
    }
  });

  it('flushes on the timer and retries a failed tick on the next one', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const store = createFakeStore({ failWhen: (call) => call === 1, microtasksOnly: true });
    const recorder = makeRecorder({ apply: store.apply, flushIntervalMs: 1_000 });
    recorder.record('a', ok(3));
    await vi.advanceTimersByTimeAsync(999);
    expect(store.calls()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(store.calls()).toBe(1);
    expect(store.totals.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.totals.get('a')).toMatchObject({ requests: 1, totalTokens: 3 });
  });

  it('close drains through transient failures and stops the timer', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const store = createFakeStore({ failWhen: (call) => call <= 2, microtasksOnly: true });
    const recorder = makeRecorder({ apply: store.apply, flushIntervalMs: 1_000 });
    recorder.record('a', ok(4));
    recorder.record('b', ok(2));
    recorder.record('a', ok(1));
    await expect(recorder.close()).resolves.toEqual({ flushedRequests: 3, flushedKeys: 2, unappliedKeys: 0 });
    expect(store.calls()).toBe(3);
    expect(store.totals.get('a')).toMatchObject({ totalTokens: 5 });
    recorder.record('a', ok(1));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.calls()).toBe(3);
  });

  it('close gives up after its bounded attempts and reports, without rejecting', async () => {
    const store = createFakeStore({ failWhen: () => true });
    const errors: unknown[] = [];
    const recorder = makeRecorder({ apply: store.apply, flushIntervalMs: 60_000, maxCloseAttempts: 3, onError: (e) => errors.push(e) });
    recorder.record('a', ok(4));
    await expect(recorder.close()).resolves.toEqual({ flushedRequests: 0, flushedKeys: 0, unappliedKeys: 1 });
    expect(store.calls()).toBe(3);
    expect(String(errors.at(-1))).toContain('unapplied usage for 1 key');
    expect(recorder.pendingUsage('a').tokens).toBe(4);
  });
});

describe('createUsageRecorder rollups', () => {
  it('hands each flush the rollup rows of the same requests, one per (hour, key, account, model, endpoint)', async () => {
    const batches: UsageRollupDelta[][] = [];
    const recorder = makeRecorder({ apply: async (_d, _s, rollups) => void batches.push(rollups), flushIntervalMs: 60_000 });
    recorder.record('a', ok(10));
    recorder.record('a', { ...ok(null), rollup: { ...FACTS, latencyMs: 40_000, upstreamBytes: 50 } });
    recorder.record('a', { ...ok(null, 0), success: false, rollup: { ...FACTS, accountId: null, failureClass: 'rate_limited', latencyMs: 3 } });
    recorder.record('b', { ...ok(5), rollup: { ...FACTS, hourStart: 2 * HOUR, endpoint: 'edits', unpriced: true }, estimatedCostMicros: 0 });
    await recorder.flush();
    expect(batches).toHaveLength(1);
    // Sorted by dimensions: hour, key, then account ('' for none first).
    const [noAcctRow, acctRow, bRow] = batches[0]!;
    expect(batches[0]).toHaveLength(3);
    expect(acctRow).toMatchObject({
      bucketStart: HOUR,
      keyId: 'a',
      accountId: 'acct_1',
      requests: 2,
      successes: 2,
      images: 2,
      totalTokens: 10,
      usageMissing: 1,
    });
    expect(acctRow).toMatchObject({ upstreamBytes: 150, latencyMsSum: 40_700, estimatedCostMicros: 2_000, unpricedRequests: 0 });
    // 700 ms is in the ≤1000 bucket (index 3), 40 s in the ≤45000 one (index 9).
    expect(acctRow!.latencyBuckets).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(noAcctRow).toMatchObject({ keyId: 'a', accountId: null, requests: 1, successes: 0, failuresRateLimited: 1, images: 0 });
    expect(bRow).toMatchObject({
      bucketStart: 2 * HOUR,
      keyId: 'b',
      endpoint: 'edits',
      requests: 1,
      totalTokens: 5,
      estimatedCostMicros: 0,
      unpricedRequests: 1,
    });
  });

  it('puts the rollup rows of a failed flush back, so the retry writes them once', async () => {
    const batches: UsageRollupDelta[][] = [];
    let calls = 0;
    const recorder = makeRecorder({
      apply: async (_d, _s, rollups) => {
        if (++calls === 1) throw new Error('db down');
        batches.push(rollups);
      },
      flushIntervalMs: 60_000,
    });
    recorder.record('a', ok(3));
    await expect(recorder.flush()).rejects.toThrow('db down');
    recorder.record('a', ok(4));
    await recorder.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual([expect.objectContaining({ keyId: 'a', requests: 2, totalTokens: 7, latencyMsSum: 1_400 })]);
  });
});

describe('createUsageRecorder with a journal', () => {
  /** A journal that remembers what it was told, in order, alongside the store's calls. */
  function createFakeJournal(opts: { failMark?: boolean } = {}) {
    const events: string[] = [];
    let seq = 0;
    return {
      events,
      append: (d: KeyUsageDelta) => {
        events.push(`append ${d.keyId} #${++seq}`);
        return seq;
      },
      markApplied: (through: number) => {
        events.push(`mark ${through}`);
        if (opts.failMark) throw new Error('disk gone');
      },
    };
  }

  it('journals each increment before counting it, and marks the journal only after a successful apply', async () => {
    const journal = createFakeJournal();
    const store = createFakeStore({ failWhen: (call) => call === 1 });
    const throughSeqs: number[] = [];
    const recorder = makeRecorder({
      apply: async (deltas, throughSeq) => {
        throughSeqs.push(throughSeq);
        await store.apply(deltas);
      },
      journal,
      flushIntervalMs: 60_000,
    });
    recorder.record('a', ok(4));
    expect(journal.events).toEqual(['append a #1']);
    recorder.record('b', ok(2));
    await expect(recorder.flush()).rejects.toThrow('db down');
    recorder.record('a', ok(1));
    await recorder.flush();
    // The retry holds the failed batch too, so its mark covers every record so far.
    expect(throughSeqs).toEqual([2, 3]);
    expect(journal.events).toEqual(['append a #1', 'append b #2', 'append a #3', 'mark 3']);
    expect(store.totals.get('a')).toMatchObject({ requests: 2, totalTokens: 5 });
  });

  it('a journal that fails to trim after an applied batch is reported, never applied again', async () => {
    const journal = createFakeJournal({ failMark: true });
    const store = createFakeStore();
    const errors: unknown[] = [];
    const recorder = makeRecorder({ apply: store.apply, journal, flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
    recorder.record('a', ok(4));
    await recorder.flush();
    await recorder.flush();
    expect(store.calls()).toBe(1);
    expect(store.totals.get('a')).toMatchObject({ requests: 1, totalTokens: 4 });
    expect(String(errors[0])).toContain('disk gone');
  });
});
