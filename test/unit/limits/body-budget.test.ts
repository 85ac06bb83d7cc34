import { describe, expect, it } from 'vitest';
import { BodyBudget } from '../../../src/limits/body-budget.js';

describe('BodyBudget', () => {
  it('admits charges up to the limit, refuses past it, and frees bytes once on release', () => {
    const budget = new BodyBudget(100);
    const a = budget.tryCharge(60);
    expect(a).not.toBeNull();
    expect(budget.tryCharge(41)).toBeNull();
    const b = budget.tryCharge(40);
    expect(budget.inUse).toBe(100);
    a!();
    a!();
    expect(budget.inUse).toBe(40);
    b!();
    expect(budget.inUse).toBe(0);
  });

  it('admits a lone body larger than the whole budget when nothing else is being read', () => {
    const budget = new BodyBudget(100);
    const big = budget.tryCharge(500);
    expect(big).not.toBeNull();
    expect(budget.tryCharge(1)).toBeNull();
    big!();
    expect(budget.tryCharge(1)).not.toBeNull();
  });

  it('0 means no budget', () => {
    const budget = new BodyBudget(0);
    expect(budget.tryCharge(1e12)).not.toBeNull();
    expect(budget.tryCharge(1e12)).not.toBeNull();
  });
});
