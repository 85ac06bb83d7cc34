import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Candidate } from '../../../src/dispatch/plan-candidates.js';
import { runFailover, takeFreeSlot, type HeldSlot, type SlotWait } from '../../../src/dispatch/run-failover.js';
import { runFanOut, type FinalResult, type PartWaitHooks } from '../../../src/dispatch/run-fan-out.js';
import { AccountLimiter } from '../../../src/limits/account-limiter.js';
import { AdmissionQueue } from '../../../src/limits/admission-queue.js';
import { replies, ScriptedUpstream, type UpstreamScript } from '../../support/scripted-upstream.js';
import { makeAccount } from '../../support/snapshot-fixtures.js';
import { waitFor } from '../../support/wait-for.js';

/** A deferred: a promise the test resolves when it chooses. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * Fan-out over accounts `names` (each capped at `cap`), every part failed over with the real
 * runFailover and waiting in a real AdmissionQueue (woken by the limiter's releases, as in the data
 * plane); `consume` reads nothing and releases the part's permit, as readPartBody does.
 */
function setup(names: string[], script: UpstreamScript, cap = 1) {
  const upstream = new ScriptedUpstream(script);
  const queue = new AdmissionQueue({ maxQueuedPerKey: 100 });
  const limiter = new AccountLimiter(Date.now, undefined, (id) => queue.notify([id]));
  const controller = new AbortController();
  const candidates: Candidate[] = names.map((name) => {
    const { credentials, ...account } = makeAccount(name, { imageConcurrency: cap });
    return { account, credentials: credentials! };
  });
  const waitForSlot = async (blocked: readonly Candidate[], hooks: PartWaitHooks): Promise<SlotWait> => {
    const result = await queue.wait<HeldSlot>({
      keyId: 'key_1',
      accountIds: blocked.map((c) => c.account.id),
      tryTake: async () => {
        const slot = takeFreeSlot(blocked, limiter);
        if (slot) hooks.onTaken();
        return slot;
      },
      giveBack: (slot) => slot.permit.release(),
      signal: hooks.signal,
      timeoutMs: Number.POSITIVE_INFINITY,
    });
    return result.kind === 'taken' ? { kind: 'taken', slot: result.value } : { kind: 'gave_up' };
  };
  const run = (parts: number, waitMs = 0) =>
    runFanOut<string>({
      parts,
      signal: controller.signal,
      waitMs,
      failover: (wait) =>
        runFailover({
          endpoint: 'generations',
          body: { contentLength: 2, open: () => Readable.from([Buffer.from('{}')]) },
          candidates,
          signal: controller.signal,
          clientHeaders: {},
          codexClientVersion: '0.99.0',
          upstream,
          accountLimiter: limiter,
          now: Date.now,
          waitForSlot: wait,
        }),
      waitForSlot,
      consume: async (result: FinalResult, part: number) => {
        result.permit.release();
        return `${part}:${result.candidate.account.name}:${result.response.status}`;
      },
    });
  const held = () => names.reduce((sum, n) => sum + limiter.inFlight(`acct_${n}`), 0);
  return { upstream, limiter, queue, controller, run, held };
}

describe('runFanOut', () => {
  it('parts beyond the accounts’ caps queue for a slot instead of failing; results come back in part order', async () => {
    const slow = gate();
    // a's first call is held, so parts 1 and 2 find every slot taken while part 0 runs.
    const { upstream, run, held } = setup(['a'], { a: [replies.held(slow.promise), replies.ok()] });
    const running = run(3);
    await waitFor('part 0 holding a', () => upstream.calls.length === 1);
    expect(held()).toBe(1);
    slow.open();
    const parts = await running;

    expect(parts.map((p) => (p.kind === 'done' ? p.value : p.kind))).toEqual(['0:a:200', '1:a:200', '2:a:200']);
    expect(upstream.maxInFlight).toBe(1); // the cap held at the upstream
    expect(upstream.calls).toEqual(['a', 'a', 'a']);
    expect(held()).toBe(0);
  });

  it('a part whose account failed fails over to an account a sibling was using, once the sibling is done', async () => {
    const slow = gate();
    // Part 0 holds b; part 1 gets a 502 from a, finds b busy, waits for part 0, then b serves it.
    const { upstream, limiter, run, held } = setup(['b', 'a'], { b: [replies.held(slow.promise), replies.ok()], a: replies.status(502) });
    const running = run(2);
    await waitFor('part 1 done with a', () => upstream.calls.length === 2 && limiter.inFlight('acct_a') === 0);
    slow.open();
    const parts = await running;

    expect(parts.map((p) => (p.kind === 'done' ? p.value : p.kind))).toEqual(['0:b:200', '1:b:200']);
    // The busy skip that made it wait is gone once b served it: only the real failure stays.
    expect(parts[1]!.skips).toEqual(['upstream_server']);
    expect(upstream.calls).toEqual(['b', 'a', 'b']);
    expect(held()).toBe(0);
  });

  it('accounts held by another request: the parts give up as exhausted rather than wait for ever', async () => {
    const { upstream, limiter, run } = setup(['a'], {});
    const other = limiter.tryAcquire('acct_a', 1)!;
    const parts = await run(2);
    expect(parts.map((p) => p.kind)).toEqual(['exhausted', 'exhausted']);
    expect(upstream.calls).toEqual([]);
    other.release();
  });

  it('the client going away takes a waiting part out of the queue at once: it ends aborted without another call', async () => {
    const slow = gate();
    // a ignores the abort and answers when the test says: part 0 keeps running while part 1 waits.
    const { upstream, queue, controller, run, held } = setup(['a'], { a: replies.held(slow.promise) });
    const running = run(2);
    await waitFor('part 1 waiting', () => upstream.calls.length === 1 && queue.queued() === 1);
    controller.abort();
    expect(queue.queued()).toBe(0);
    slow.open();
    const parts = await running;
    expect(parts.map((p) => p.kind)).toEqual(['done', 'aborted']);
    expect(upstream.calls).toEqual(['a']);
    expect(held()).toBe(0);
  });

  it('with a wait budget, a part waits for a slot another request holds, and gets it when that request ends', async () => {
    const { upstream, limiter, queue, run } = setup(['a'], {});
    const other = limiter.tryAcquire('acct_a', 1)!;
    const running = run(2, 60_000);
    await waitFor('both parts queued', () => queue.queued() === 2);
    other.release();
    const parts = await running;
    expect(parts.map((p) => (p.kind === 'done' ? p.value : p.kind))).toEqual(['0:a:200', '1:a:200']);
    expect(upstream.maxInFlight).toBe(1);
  });

  it('the client going away ends every part aborted and releases every slot', async () => {
    const { upstream, controller, run, held } = setup(['a'], { a: replies.hang() });
    const running = run(2);
    await waitFor('part 0 calling a', () => upstream.calls.length === 1);
    controller.abort();
    const parts = await running;
    expect(parts.map((p) => p.kind)).toEqual(['aborted', 'aborted']);
    expect(upstream.calls).toEqual(['a']);
    expect(held()).toBe(0);
  });
});
