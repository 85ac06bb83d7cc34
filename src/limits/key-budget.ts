import type { QuotaPeriod } from './budget-period.js';

/** Amounts a budget counts: images, usage tokens and estimated cost in millionths of a US dollar. */
export interface BudgetAmounts {
  images: number;
  tokens: number;
  costMicros: number;
}

/** The measures of a budget, in the order refusals name them. */
export const BUDGET_MEASURES = ['images', 'tokens', 'costMicros'] as const satisfies ReadonlyArray<keyof BudgetAmounts>;
export type BudgetMeasure = (typeof BUDGET_MEASURES)[number];

export const ZERO_AMOUNTS: Readonly<BudgetAmounts> = Object.freeze({ images: 0, tokens: 0, costMicros: 0 });

/** A key's budget: the period it counts over and a limit per measure (null = that measure is unlimited). */
export interface KeyBudget {
  period: QuotaPeriod;
  limits: { [M in BudgetMeasure]: number | null };
}

/** Why a budget refuses: the first measure that would go over, what is used (reservations in) and its limit. */
export interface BudgetRefusal {
  measure: BudgetMeasure;
  used: number;
  limit: number;
}

/**
 * Whether `ask` more fits the budget after `used` (spent plus reserved): refused when a limited
 * measure is already used up, or when asking for more of it would pass its limit. Asking for
 * nothing checks only the first, which is what a check before the request is known does.
 */
export function judgeBudget(budget: KeyBudget, used: BudgetAmounts, ask: BudgetAmounts = ZERO_AMOUNTS): BudgetRefusal | null {
  for (const measure of BUDGET_MEASURES) {
    const limit = budget.limits[measure];
    if (limit === null) continue;
    if (used[measure] >= limit || (ask[measure] > 0 && used[measure] + ask[measure] > limit)) return { measure, used: used[measure], limit };
  }
  return null;
}

/** Adds `b` into `a` (which the caller owns). */
export function addAmounts(a: BudgetAmounts, b: Readonly<BudgetAmounts>, sign: 1 | -1 = 1): BudgetAmounts {
  a.images += sign * b.images;
  a.tokens += sign * b.tokens;
  a.costMicros += sign * b.costMicros;
  return a;
}

/**
 * A reservation held against a key's budget. `release` ends it, with what the request really used
 * when it ran (a shared budget adds that; this process's own view reads it from the usage recorder
 * instead); only the first call counts.
 */
export interface BudgetHold {
  release(used?: Readonly<BudgetAmounts>): void;
}

/**
 * The reservations this process holds against each key's budget: the estimates of requests admitted
 * and not yet recorded. Without them a budget is only checked before a request starts, and many
 * requests started together could all pass a check that each alone would pass.
 */
export class BudgetLedger {
  private readonly byKey = new Map<string, BudgetAmounts>();

  /** What the key's admitted, unrecorded requests are expected to use. */
  reservedFor(keyId: string): Readonly<BudgetAmounts> {
    return this.byKey.get(keyId) ?? ZERO_AMOUNTS;
  }

  /** Reserves `amounts` for the key until the hold is released. */
  hold(keyId: string, amounts: Readonly<BudgetAmounts>): BudgetHold {
    const held = { ...amounts };
    let sum = this.byKey.get(keyId);
    if (!sum) {
      sum = { ...ZERO_AMOUNTS };
      this.byKey.set(keyId, sum);
    }
    addAmounts(sum, held);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const current = this.byKey.get(keyId);
        if (!current) return;
        addAmounts(current, held, -1);
        if (current.images <= 0 && current.tokens <= 0 && current.costMicros <= 0) this.byKey.delete(keyId);
      },
    };
  }
}

/** The quota fields of a key record, as the budget reads them. */
export interface QuotaFields {
  quotaPeriod: QuotaPeriod;
  quotaImages: number | null;
  quotaTokens: number | null;
  quotaCostMicros: number | null;
}

/** True when the key limits some measure: the one check a request of an unlimited key pays. */
export const hasQuota = (key: QuotaFields): boolean => key.quotaImages !== null || key.quotaTokens !== null || key.quotaCostMicros !== null;

/** A key's budget from its quota fields. */
export const buildKeyBudget = (key: QuotaFields): KeyBudget => ({
  period: key.quotaPeriod,
  limits: { images: key.quotaImages, tokens: key.quotaTokens, costMicros: key.quotaCostMicros },
});
