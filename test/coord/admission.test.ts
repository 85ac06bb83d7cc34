import { describe, expect, it } from 'vitest';
import type { AdmitCandidate, AdmitResult, KeyGate } from '../../src/coord/coord-types.js';
import type { RedisCoordinator } from '../../src/coord/redis-coordinator.js';
import { useCoordFixture } from '../support/coordinators.js';
import { waitFor } from '../support/wait-for.js';

const env = useCoordFixture();
const { bin } = env;

const candidate = (accountId: string, cap = 1, tokenFingerprint: string | null = null): AdmitCandidate => ({ accountId, cap, tokenFingerprint });

/** Three coordinators on one prefix: three gateway processes sharing one Redis. */
async function threeInstances(): Promise<RedisCoordinator[]> {
  const keyPrefix = env.fx.nextPrefix();
  return Promise.all([0, 1, 2].map(async () => (await env.fx.create({ keyPrefix })).coord));
}

const admittedAccount = (r: AdmitResult): string | null => (r.kind === 'admitted' ? r.accountId : null);

describe.skipIf(!bin)('admission across instances', () => {
  it('never exceeds an account cap under 60 concurrent requests from 3 instances, and reaches it', async () => {
    const instances = await threeInstances();
    const caps: Record<string, number> = { a: 2, b: 3 };
    const candidates = Object.entries(caps).map(([id, cap]) => candidate(id, cap));
    const inFlight: Record<string, number> = { a: 0, b: 0 };
    const peak: Record<string, number> = { a: 0, b: 0 };
    const freed = instances.map((coord) => {
      const waiters: (() => void)[] = [];
      const sub = coord.onFreed(() => {
        for (const wake of waiters.splice(0)) wake();
      });
      return { sub, next: () => new Promise<void>((wake) => waiters.push(wake)) };
    });
    await Promise.all(freed.map((f) => f.sub.ready));
    const runOne = async (i: number) => {
      const coord = instances[i % 3] as RedisCoordinator;
      for (;;) {
        const result = await coord.admit({ candidates });
        if (result.kind === 'admitted') {
          const id = result.accountId;
          inFlight[id] = (inFlight[id] ?? 0) + 1;
          peak[id] = Math.max(peak[id] ?? 0, inFlight[id] ?? 0);
          await new Promise((r) => setTimeout(r, 5 + (i % 7)));
          inFlight[id] = (inFlight[id] ?? 0) - 1;
          await coord.release([result.accountLease]);
          return;
        }
        expect(result.kind).toBe('none');
        // Wait for any release to be announced (or a short while: it may have come before this wait).
        await Promise.race([(freed[i % 3] as (typeof freed)[number]).next(), new Promise((r) => setTimeout(r, 100))]);
      }
    };
    await Promise.all(Array.from({ length: 60 }, (_, i) => runOne(i)));
    expect(peak).toEqual(caps);
    const load = await (instances[0] as RedisCoordinator).readLoad(['a', 'b']);
    expect([...load.values()].map((l) => l.inFlight)).toEqual([0, 0]);
  });

  it('admits exactly the total cap when 60 admissions arrive at once, and names the accounts at their cap', async () => {
    const instances = await threeInstances();
    const candidates = [candidate('a', 2), candidate('b', 3)];
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (instances[i % 3] as RedisCoordinator).admit({ candidates })));
    const admitted = results.map(admittedAccount).filter((id) => id !== null);
    expect(admitted.filter((id) => id === 'a')).toHaveLength(2);
    expect(admitted.filter((id) => id === 'b')).toHaveLength(3);
    const refused = results.filter((r) => r.kind === 'none');
    expect(refused).toHaveLength(55);
    for (const r of refused) expect(r).toMatchObject({ blockedAccountIds: ['a', 'b'], cooling: [], keyLease: null });
  });

  it('picks the lowest in-flight/cap first, then the least recently started, then the given order', async () => {
    const [one, two] = await threeInstances();
    const a = one as RedisCoordinator;
    const b = two as RedisCoordinator;
    const order = [candidate('x', 2), candidate('y', 4), candidate('z', 4)];
    // All idle and never started: the given order decides.
    expect(admittedAccount(await a.admit({ candidates: order }))).toBe('x');
    // x is at 1/2: y and z are at 0; y comes first.
    const yStart = await b.admit({ candidates: order });
    expect(admittedAccount(yStart)).toBe('y');
    await waitFor("Redis time to move past y's start", async () => (await env.fx.serverNowMs()) > (yStart.kind === 'admitted' ? yStart.serverNowMs : 0));
    expect(admittedAccount(await a.admit({ candidates: order }))).toBe('z');
    // y and z are both at 1/4 (x at 1/2): y started earlier, whatever the order given.
    expect(admittedAccount(await b.admit({ candidates: [order[2], order[1], order[0]] as AdmitCandidate[] }))).toBe('y');

    const p = candidate('p');
    const q = candidate('q');
    const first = await a.admit({ candidates: [p] });
    await waitFor('Redis time to move past the first start', async () => (await env.fx.serverNowMs()) > (first.kind === 'admitted' ? first.serverNowMs : 0));
    const second = await b.admit({ candidates: [q] });
    if (first.kind !== 'admitted' || second.kind !== 'admitted') throw new Error('both should be admitted');
    await a.release([first.accountLease]);
    await b.release([second.accountLease]);
    // Both idle: p started less recently, so it wins although q is given first.
    expect(admittedAccount(await b.admit({ candidates: [q, p] }))).toBe('p');
  });
});

describe.skipIf(!bin)('key gates across instances', () => {
  const gate = (over: Partial<KeyGate>): KeyGate => ({ keyId: 'k1', maxConcurrency: null, minStartIntervalMs: null, ...over });
  const many = [candidate('a', 100), candidate('b', 100)];

  it('max_concurrency holds across three instances; a refusal takes nothing and says retry after 1 s', async () => {
    const instances = await threeInstances();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (instances[i % 3] as RedisCoordinator).admit({ keyGate: gate({ maxConcurrency: 2 }), candidates: many })),
    );
    const admitted = results.filter((r) => r.kind === 'admitted');
    expect(admitted).toHaveLength(2);
    for (const r of admitted) expect(r.kind === 'admitted' && r.keyLease?.ownerId).toBe('k1');
    const refused = results.filter((r) => r.kind === 'key_refused');
    expect(refused).toHaveLength(10);
    for (const r of refused) expect(r).toEqual({ kind: 'key_refused', reason: 'key_max_concurrency', inFlight: 2, retryAfterMs: 1000 });
    const load = await (instances[0] as RedisCoordinator).readLoad(['a', 'b']);
    expect((load.get('a')?.inFlight ?? 0) + (load.get('b')?.inFlight ?? 0)).toBe(2);
  });

  it('min_start_interval holds across instances, and refusals do not move its clock', async () => {
    const [one, two, three] = await threeInstances();
    const keyGate = gate({ minStartIntervalMs: 400 });
    const first = await (one as RedisCoordinator).admit({ keyGate, candidates: many });
    if (first.kind !== 'admitted') throw new Error('the first start is admitted');
    const refusal = await (two as RedisCoordinator).admit({ keyGate, candidates: many });
    expect(refusal).toMatchObject({ kind: 'key_refused', reason: 'key_min_start_interval', inFlight: 1 });
    const retryAfterMs = refusal.kind === 'key_refused' ? refusal.retryAfterMs : 0;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(400);
    // Refused every 20 ms: if a refusal moved the clock, no retry would ever be admitted.
    const next = await waitFor('a start once the interval has passed', async () => {
      const r = await (three as RedisCoordinator).admit({ keyGate, candidates: many });
      if (r.kind === 'key_refused') expect(r.reason).toBe('key_min_start_interval');
      return r.kind === 'admitted' ? r : null;
    });
    expect(next.serverNowMs - first.serverNowMs).toBeGreaterThanOrEqual(400);
  });

  it('reports the concurrency gate first when both fail, with the later of 1 s and the next start slot', async () => {
    const [one, two] = await threeInstances();
    const keyGate = gate({ maxConcurrency: 1, minStartIntervalMs: 10_000 });
    expect((await (one as RedisCoordinator).admit({ keyGate, candidates: many })).kind).toBe('admitted');
    const refusal = await (two as RedisCoordinator).admit({ keyGate, candidates: many });
    expect(refusal).toMatchObject({ kind: 'key_refused', reason: 'key_max_concurrency', inFlight: 1 });
    expect(refusal.kind === 'key_refused' && refusal.retryAfterMs).toBeGreaterThan(9_000);
  });

  it('admits the key even when every account is at its cap (its lease comes back with the refusal, its clock moved)', async () => {
    const [one, two] = await threeInstances();
    const coord = one as RedisCoordinator;
    const busy = await coord.admit({ candidates: [candidate('only')] });
    expect(busy.kind).toBe('admitted');
    const keyGate = gate({ maxConcurrency: 5, minStartIntervalMs: 60_000 });
    const none = await coord.admit({ keyGate, candidates: [candidate('only')] });
    expect(none).toMatchObject({ kind: 'none', blockedAccountIds: ['only'], keyLease: { scope: 'key', ownerId: 'k1' } });
    // The key's start counted, as the in-process limiter counts an admitted request that found no account.
    expect(await (two as RedisCoordinator).admit({ keyGate, candidates: [candidate('other')] })).toMatchObject({
      kind: 'key_refused',
      reason: 'key_min_start_interval',
    });
    // A failover attempt (no key gate) reaches the accounts directly.
    expect(admittedAccount(await (two as RedisCoordinator).admit({ candidates: [candidate('only'), candidate('other')] }))).toBe('other');
  });
});
