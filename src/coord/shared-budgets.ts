import type { BudgetTriple, SharedBudgetAsk, SharedBudgetVerdict } from './coord-types.js';

/**
 * How long a reservation holds without being settled (ms): longer than any request or async job
 * runs, so only a reservation whose holder died lapses, and then it frees its amounts at most this late.
 */
export const BUDGET_HOLD_MS = 3_600_000;

/** The Redis keys of a key's budget in one period (see BUDGET_RESERVE_LUA). */
export type BudgetKeys = (keyId: string, periodStartMs: number, resetAtMs: number) => readonly [state: string, holds: string];

/**
 * Keys' budgets shared by every instance: one script call reserves a request's estimate against
 * the period's use by all instances (spent and reserved), one settles it with what the request
 * really used. Each call throws when Redis cannot answer; the caller then judges on its own view.
 */
export class SharedBudgets {
  private sequence = 0;

  constructor(
    private readonly opts: {
      call: (script: 'cigBudgetReserve' | 'cigBudgetSettle', keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;
      keys: BudgetKeys;
      holderId: string;
      /** How long an unsettled reservation holds (ms; default BUDGET_HOLD_MS). */
      holdMs?: number;
    },
  ) {}

  /** Reserves `ask.ask` in the key's period, or says which limit it would pass. */
  async reserve(ask: SharedBudgetAsk): Promise<SharedBudgetVerdict> {
    this.sequence += 1;
    const holdId = `${this.opts.holderId}:b${this.sequence.toString(36)}`;
    const keys = this.opts.keys(ask.keyId, ask.periodStartMs, ask.resetAtMs);
    const args = [
      ...ask.seed.map(toCount),
      ...ask.limits.map((l) => (l === null ? -1 : toCount(l))),
      ...ask.ask.map(toCount),
      holdId,
      this.opts.holdMs ?? BUDGET_HOLD_MS,
      ask.keepMs,
    ];
    const reply = (await this.opts.call('cigBudgetReserve', keys, args)) as number[];
    if (Number(reply[0]) === 1) return { kind: 'held', holdId };
    return { kind: 'refused', measure: (Number(reply[1]) - 1) as 0 | 1 | 2, used: Number(reply[2]) };
  }

  /** Ends a reservation with what its request used. */
  async settle(ask: Pick<SharedBudgetAsk, 'keyId' | 'periodStartMs' | 'resetAtMs'>, holdId: string, used: BudgetTriple): Promise<void> {
    await this.opts.call('cigBudgetSettle', this.opts.keys(ask.keyId, ask.periodStartMs, ask.resetAtMs), [holdId, ...used.map(toCount)]);
  }
}

/** A whole, non-negative number for the scripts' integer arithmetic. */
const toCount = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
