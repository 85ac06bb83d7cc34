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
  /** Settles Redis did not answer, with when they were first sent: sent again once it does. */
  private unsettled: UnsettledCall[] = [];

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

  /**
   * Ends a reservation with what its request used. When Redis does not answer it throws, and the
   * settle is kept and sent again with the next one that gets through or when Redis is back
   * (`retryUnsettled`): a blip must not leave the reservation standing for a whole hold. A settle
   * counts once however often it is sent (BUDGET_SETTLE_LUA).
   */
  async settle(ask: Pick<SharedBudgetAsk, 'keyId' | 'periodStartMs' | 'resetAtMs'>, holdId: string, used: BudgetTriple): Promise<void> {
    const call = { keys: this.opts.keys(ask.keyId, ask.periodStartMs, ask.resetAtMs), args: [holdId, ...used.map(toCount)], sentAtMs: Date.now() };
    await this.send(call);
  }

  /** How many settles wait for Redis to answer. */
  get unsettledCount(): number {
    return this.unsettled.length;
  }

  /** Sends the kept settles again; those older than a hold are dropped, their reservations have lapsed. */
  retryUnsettled(): void {
    const oldestMs = Date.now() - (this.opts.holdMs ?? BUDGET_HOLD_MS);
    const calls = this.unsettled.filter((c) => c.sentAtMs > oldestMs);
    this.unsettled = [];
    for (const call of calls) this.send(call).catch(() => undefined); // kept again on failure
  }

  private async send(call: UnsettledCall): Promise<void> {
    try {
      await this.opts.call('cigBudgetSettle', call.keys, call.args);
    } catch (err) {
      this.unsettled.push(call);
      throw err;
    }
    if (this.unsettled.length > 0) this.retryUnsettled();
  }
}

interface UnsettledCall {
  keys: readonly string[];
  args: (string | number)[];
  sentAtMs: number;
}

/** A whole, non-negative number for the scripts' integer arithmetic. */
const toCount = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
