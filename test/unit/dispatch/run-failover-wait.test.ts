import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exhaustionError, explainExhaustion, QUEUE_FULL_MESSAGE } from '../../../src/dispatch/exhaustion.js';
import type { Candidate } from '../../../src/dispatch/plan-candidates.js';
import { runFailover, takeFreeSlot, type FailoverInput, type SlotWait } from '../../../src/dispatch/run-failover.js';
import { AccountLimiter } from '../../../src/limits/account-limiter.js';
import { replies, ScriptedUpstream, type UpstreamScript } from '../../support/scripted-upstream.js';
import { makeAccount } from '../../support/snapshot-fixtures.js';

/**
 * runFailover over accounts `names` (cap 1 each) with a scripted `waitForSlot`: each wait records
 * the blocked accounts it was asked about and answers with what `onWait` returns (by default: free
 * the slots held in `others` and take one, as the queue would once another request ended).
 */
function setup(names: string[], script: UpstreamScript = {}) {
  const upstream = new ScriptedUpstream(script);
  const limiter = new AccountLimiter();
  const controller = new AbortController();
  const candidates: Candidate[] = names.map((name) => {
    const { credentials, ...account } = makeAccount(name, { imageConcurrency: 1 });
    return { account, credentials: credentials! };
  });
  const waits: string[][] = [];
  const others = new Map<string, { release(): void }>();
  /** Another request holds this account's only slot. */
  const occupy = (name: string) => others.set(name, limiter.tryAcquire(`acct_${name}`, 1)!);
  let onWait = async (blocked: readonly Candidate[]): Promise<SlotWait> => {
    for (const [name, permit] of others) {
      permit.release();
      others.delete(name);
    }
    const slot = takeFreeSlot(blocked, limiter);
    return slot ? { kind: 'taken', slot } : { kind: 'gave_up' };
  };
  const input: FailoverInput = {
    endpoint: 'generations',
    body: { contentLength: 2, open: () => Readable.from([Buffer.from('{}')]) },
    candidates,
    signal: controller.signal,
    clientHeaders: {},
    codexClientVersion: '0.99.0',
    upstream,
    accountLimiter: limiter,
    now: Date.now,
    waitForSlot: (blocked) => {
      waits.push(blocked.map((c) => c.account.name));
      return onWait(blocked);
    },
  };
  const setOnWait = (fn: typeof onWait) => (onWait = fn);
  const held = () => names.reduce((sum, n) => sum + limiter.inFlight(`acct_${n}`), 0);
  return { upstream, limiter, controller, input, waits, occupy, setOnWait, held, others };
}

describe('runFailover with waitForSlot', () => {
  it('every account at its cap: waits, then serves the request on the freed account with the slot the wait took', async () => {
    const t = setup(['a', 'b']);
    t.occupy('a');
    t.occupy('b');
    const result = await runFailover(t.input);
    expect(t.waits).toEqual([['a', 'b']]);
    expect(result.kind).toBe('final');
    expect(t.upstream.calls).toEqual(['a']);
    // The slot taken by the wait is the one the final answer holds: no second slot was taken.
    expect(t.held()).toBe(1);
    if (result.kind === 'final') result.permit.release();
    expect(t.held()).toBe(0);
    expect(result.skips).toEqual([]);
  });

  it('mixed: a failed for real, b was at its cap → waits for b only; a is not tried again', async () => {
    const t = setup(['a', 'b'], { a: replies.status(502), b: replies.ok() });
    t.occupy('b');
    const result = await runFailover(t.input);
    expect(t.waits).toEqual([['b']]);
    expect(result.kind).toBe('final');
    expect(t.upstream.calls).toEqual(['a', 'b']);
    expect(result.skips).toEqual(['upstream_server']);
    if (result.kind === 'final') result.permit.release();
  });

  it('a wait that gives up answers exactly what the instant refusal answers', async () => {
    const t = setup(['a', 'b'], { a: replies.status(502) });
    t.occupy('b');
    t.setOnWait(async () => ({ kind: 'gave_up' }));
    const waited = await runFailover(t.input);
    const instant = await runFailover({ ...t.input, waitForSlot: undefined });
    expect(waited.kind).toBe('exhausted');
    expect(waited.skips).toEqual(instant.skips);
    expect(waited.skips).toEqual(['upstream_server', 'concurrency_blocked']);
    expect(explainExhaustion({ skips: waited.skips, attempts: waited.attempts }, 0).code).toBe('account_pool_exhausted');
    t.others.get('b')!.release();
  });

  it('only busy and timed out: accounts_busy, as today', async () => {
    const t = setup(['a']);
    t.occupy('a');
    t.setOnWait(async () => ({ kind: 'gave_up' }));
    const result = await runFailover(t.input);
    expect(result).toMatchObject({ kind: 'exhausted', skips: ['concurrency_blocked'] });
    expect(exhaustionError(result.skips)).toBe('accounts_busy');
    expect(t.upstream.calls).toEqual([]);
  });

  it('no place in the queue: admission_queue_full, whatever else failed', async () => {
    const t = setup(['a', 'b'], { a: replies.status(502) });
    t.occupy('b');
    t.setOnWait(async () => ({ kind: 'queue_full' }));
    const result = await runFailover(t.input);
    expect(result.skips).toEqual(['upstream_server', 'concurrency_blocked', 'admission_queue_full']);
    const why = explainExhaustion({ skips: result.skips, attempts: result.attempts }, 0);
    expect(why).toMatchObject({ code: 'admission_queue_full', message: QUEUE_FULL_MESSAGE });
  });

  it('never waits when no account was at its cap (real failures only)', async () => {
    const t = setup(['a', 'b'], { a: replies.status(502), b: replies.status(503) });
    const result = await runFailover(t.input);
    expect(result.kind).toBe('exhausted');
    expect(t.waits).toEqual([]);
  });

  it('the freed account fails too: waits again for the accounts still at their cap', async () => {
    const t = setup(['a', 'b'], { a: replies.status(500), b: replies.ok() });
    t.occupy('a');
    t.occupy('b');
    // First wait frees only a; the second frees b.
    let round = 0;
    t.setOnWait(async (blocked) => {
      round += 1;
      const name = round === 1 ? 'a' : 'b';
      t.others.get(name)!.release();
      t.others.delete(name);
      const slot = takeFreeSlot(blocked, t.limiter);
      return slot ? { kind: 'taken', slot } : { kind: 'gave_up' };
    });
    const result = await runFailover(t.input);
    expect(t.waits).toEqual([['a', 'b'], ['b']]);
    expect(t.upstream.calls).toEqual(['a', 'b']);
    expect(result).toMatchObject({ kind: 'final', skips: ['upstream_server'] });
    if (result.kind === 'final') result.permit.release();
    expect(t.held()).toBe(0);
  });

  it('the client leaves while waiting: aborted, and a slot taken meanwhile is released unused', async () => {
    const t = setup(['a']);
    t.occupy('a');
    t.setOnWait(async (blocked) => {
      t.others.get('a')!.release();
      const slot = takeFreeSlot(blocked, t.limiter)!;
      t.controller.abort();
      return { kind: 'taken', slot };
    });
    const result = await runFailover(t.input);
    expect(result.kind).toBe('aborted');
    expect(t.upstream.calls).toEqual([]);
    expect(t.held()).toBe(0);
  });

  it('the client leaves and the wait gives up: aborted, not exhausted', async () => {
    const t = setup(['a']);
    t.occupy('a');
    t.setOnWait(async () => {
      t.controller.abort();
      return { kind: 'gave_up' };
    });
    expect((await runFailover(t.input)).kind).toBe('aborted');
  });
});
