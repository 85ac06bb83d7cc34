import { describe, expect, it } from 'vitest';
import type { SharedBudgetAsk } from '../../src/coord/coord-types.js';
import type { RedisCoordinator } from '../../src/coord/redis-coordinator.js';
import { useCoordFixture } from '../support/coordinators.js';
import { waitFor } from '../support/wait-for.js';

const env = useCoordFixture();
const { bin } = env;

const PERIOD = { keyId: 'key_1', periodStartMs: Date.UTC(2026, 10, 30), resetAtMs: 0, keepMs: 86_400_000 };
const ask = (overrides: Partial<SharedBudgetAsk> = {}): SharedBudgetAsk => ({
  ...PERIOD,
  seed: [0, 0, 0],
  limits: [5, null, null],
  ask: [1, 0, 0],
  ...overrides,
});

async function instances(n: number, budgetHoldMs?: number): Promise<RedisCoordinator[]> {
  const keyPrefix = env.fx.nextPrefix();
  return Promise.all(Array.from({ length: n }, async () => (await env.fx.create({ keyPrefix, ...(budgetHoldMs ? { budgetHoldMs } : {}) })).coord));
}

describe.skipIf(!bin)('key budgets shared through Redis', () => {
  it('30 reservations of 1 image at once from 3 instances on a budget of 5 hold exactly 5', async () => {
    const coords = await instances(3);
    const verdicts = await Promise.all(Array.from({ length: 30 }, (_, i) => coords[i % 3]!.budgets.reserve(ask())));
    expect(verdicts.filter((v) => v.kind === 'held')).toHaveLength(5);
    expect(verdicts.filter((v) => v.kind === 'refused')).toEqual(Array.from({ length: 25 }, () => ({ kind: 'refused', measure: 0, used: 5 })));
  });

  it('a settle swaps the reservation for what the request used, seen by every instance', async () => {
    const [a, b] = await instances(2);
    const tokens = ask({ limits: [null, 3_000, null], ask: [0, 1_000, 0] });
    const held = await a!.budgets.reserve(tokens);
    expect(held.kind).toBe('held');
    await a!.budgets.settle(PERIOD, (held as { holdId: string }).holdId, [1, 200, 0]);
    // 200 used: two more estimates of 1,000 fit, a third does not.
    expect((await b!.budgets.reserve(tokens)).kind).toBe('held');
    expect((await b!.budgets.reserve(tokens)).kind).toBe('held');
    expect(await a!.budgets.reserve(tokens)).toEqual({ kind: 'refused', measure: 1, used: 2_200 });
  });

  it('the seed starts a period and raises a used figure below it; a new period or reset starts from its own seed', async () => {
    const [a] = await instances(1);
    expect(await a!.budgets.reserve(ask({ seed: [5, 0, 0] }))).toEqual({ kind: 'refused', measure: 0, used: 5 });
    const [fresh] = await instances(1);
    expect((await fresh!.budgets.reserve(ask({ seed: [2, 0, 0] }))).kind).toBe('held');
    // Usage that reached the database without reaching Redis (an outage) comes in through a higher seed.
    expect(await fresh!.budgets.reserve(ask({ seed: [5, 0, 0] }))).toEqual({ kind: 'refused', measure: 0, used: 6 });
    expect((await fresh!.budgets.reserve(ask({ seed: [0, 0, 0], resetAtMs: 1 }))).kind).toBe('held');
    expect((await fresh!.budgets.reserve(ask({ seed: [0, 0, 0], periodStartMs: PERIOD.periodStartMs + 86_400_000 }))).kind).toBe('held');
  });

  it('a cost limit refuses in micro-dollars', async () => {
    const [a] = await instances(1);
    const cost = ask({ limits: [null, null, 1_200_000], ask: [0, 0, 500_000] });
    expect((await a!.budgets.reserve(cost)).kind).toBe('held');
    expect((await a!.budgets.reserve(cost)).kind).toBe('held');
    expect(await a!.budgets.reserve(cost)).toEqual({ kind: 'refused', measure: 2, used: 1_000_000 });
  });

  it('a reservation whose holder never settles lapses: the budget frees without it', async () => {
    const [dead, alive] = await instances(2, 200);
    const one = ask({ limits: [1, null, null] });
    expect((await dead!.budgets.reserve(one)).kind).toBe('held');
    expect((await alive!.budgets.reserve(one)).kind).toBe('refused');
    await waitFor('the lapsed reservation to free the budget', async () => (await alive!.budgets.reserve(one)).kind === 'held');
    // The lapsed one came off the sums once: the live one alone fills the budget.
    expect(await alive!.budgets.reserve(one)).toEqual({ kind: 'refused', measure: 0, used: 1 });
  });

  it('a settle sent again (its first answer lost) counts once', async () => {
    const [a] = await instances(1);
    const tokens = ask({ limits: [null, 3_000, null], ask: [0, 1_000, 0] });
    const held = (await a!.budgets.reserve(tokens)) as { holdId: string };
    await a!.budgets.settle(PERIOD, held.holdId, [1, 200, 0]);
    await a!.budgets.settle(PERIOD, held.holdId, [1, 200, 0]);
    expect((await a!.budgets.reserve(tokens)).kind).toBe('held');
    expect((await a!.budgets.reserve(tokens)).kind).toBe('held');
    expect(await a!.budgets.reserve(tokens)).toEqual({ kind: 'refused', measure: 1, used: 2_200 });
  });

  it('a settle Redis did not answer is kept and sent again once Redis is back: the reservation does not stand for a whole hold', async () => {
    const [a, b] = await instances(2);
    const one = ask({ limits: [1, null, null] });
    const held = (await a!.budgets.reserve(one)) as { holdId: string };
    env.server.pause();
    try {
      // A call that times out puts `a` in local mode; from then on its calls fail without reaching Redis.
      await expect(a!.budgets.reserve(ask({ keyId: 'key_other' }))).rejects.toThrow();
      expect(a!.mode).toBe('local');
      await expect(a!.budgets.settle(PERIOD, held.holdId, [0, 0, 0])).rejects.toThrow();
      expect(a!.budgets.unsettledCount).toBe(1);
    } finally {
      env.server.resume();
    }
    // The request used nothing: once the kept settle gets through, the image it reserved is free again.
    await waitFor('the kept settle to free the budget', async () => (await b!.budgets.reserve(one)).kind === 'held', 5_000);
    expect(a!.budgets.unsettledCount).toBe(0);
  });
});
