import { describe, expect, it } from 'vitest';
import { BudgetLedger, judgeBudget, type KeyBudget } from '../../../src/limits/key-budget.js';

const budget = (limits: Partial<KeyBudget['limits']>): KeyBudget => ({ period: 'day', limits: { images: null, tokens: null, costMicros: null, ...limits } });
const amounts = (images: number, tokens = 0, costMicros = 0) => ({ images, tokens, costMicros });

describe('judgeBudget', () => {
  it('refuses a used-up measure even when asking for nothing, and an ask that would pass the limit', () => {
    expect(judgeBudget(budget({ images: 3 }), amounts(3))).toEqual({ measure: 'images', used: 3, limit: 3 });
    expect(judgeBudget(budget({ images: 3 }), amounts(2))).toBeNull();
    expect(judgeBudget(budget({ images: 3 }), amounts(2), amounts(1))).toBeNull();
    expect(judgeBudget(budget({ images: 3 }), amounts(2), amounts(2))).toEqual({ measure: 'images', used: 2, limit: 3 });
  });

  it('names the first limited measure that refuses; unlimited measures never do', () => {
    expect(judgeBudget(budget({ tokens: 100, costMicros: 50 }), amounts(1_000, 90, 60), amounts(1, 5, 0))).toEqual({
      measure: 'costMicros',
      used: 60,
      limit: 50,
    });
    expect(judgeBudget(budget({ tokens: 100 }), amounts(1_000_000, 90), amounts(9, 11))).toEqual({ measure: 'tokens', used: 90, limit: 100 });
    expect(judgeBudget(budget({}), amounts(10 ** 9, 10 ** 9, 10 ** 9), amounts(1, 1, 1))).toBeNull();
  });
});

describe('BudgetLedger', () => {
  it('sums holds per key and takes each back once, however often it is released', () => {
    const ledger = new BudgetLedger();
    const a = ledger.hold('k', amounts(2, 100, 5));
    const b = ledger.hold('k', amounts(1, 10, 1));
    ledger.hold('other', amounts(7));
    expect(ledger.reservedFor('k')).toEqual(amounts(3, 110, 6));
    a.release();
    a.release();
    expect(ledger.reservedFor('k')).toEqual(amounts(1, 10, 1));
    b.release();
    expect(ledger.reservedFor('k')).toEqual(amounts(0, 0, 0));
    expect(ledger.reservedFor('other')).toEqual(amounts(7));
  });
});
