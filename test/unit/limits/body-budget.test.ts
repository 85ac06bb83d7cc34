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
    a!.release();
    a!.release();
    expect(budget.inUse).toBe(40);
    b!.release();
    expect(budget.inUse).toBe(0);
  });

  it('admits a lone body larger than the whole budget when nothing else is being read', () => {
    const budget = new BodyBudget(100);
    const big = budget.tryCharge(500);
    expect(big).not.toBeNull();
    expect(budget.tryCharge(1)).toBeNull();
    big!.release();
    expect(budget.tryCharge(1)).not.toBeNull();
  });

  it('grows a charge while it fits, refuses what does not without charging it, and releases all of it', () => {
    const budget = new BodyBudget(100);
    const chunked = budget.tryCharge(0)!;
    const other = budget.tryCharge(30)!;
    expect(chunked.grow(50)).toBe(true);
    expect(chunked.grow(21)).toBe(false);
    expect(budget.inUse).toBe(80);
    expect(chunked.grow(20)).toBe(true);
    expect(budget.tryCharge(1)).toBeNull();
    chunked.release();
    chunked.release();
    expect(budget.inUse).toBe(30);
    expect(chunked.grow(1)).toBe(false);
    other.release();
    expect(budget.inUse).toBe(0);
  });

  it('lets a lone body grow past the whole budget when nothing else is being read', () => {
    const budget = new BodyBudget(100);
    const lone = budget.tryCharge(0)!;
    expect(lone.grow(90)).toBe(true);
    expect(lone.grow(500)).toBe(true);
    expect(budget.tryCharge(1)).toBeNull();
  });

  it('0 means no budget', () => {
    const budget = new BodyBudget(0);
    expect(budget.tryCharge(1e12)).not.toBeNull();
    expect(budget.tryCharge(1e12)).not.toBeNull();
  });
});
