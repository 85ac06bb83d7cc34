import { createPermit, type Permit } from './permit.js';

interface AccountState {
  inFlight: number;
  lastStartMs: number;
}

/**
 * Per-account image concurrency, in process memory. The cap is read at acquire time, so
 * lowering it applies to new requests at once while existing permits drain. Never waits (waiting
 * is the admission queue's job: `onRelease` tells it a slot freed). Also remembers each account's
 * last start, which candidate ordering uses to spread load.
 */
export class AccountLimiter {
  private readonly states = new Map<string, AccountState>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly onChange: (accountId: string, inFlight: number) => void = () => {},
    private readonly onRelease: (accountId: string) => void = () => {},
  ) {}

  /** Takes a slot if fewer than `cap` (at least 1) are in flight; null when the account is full. */
  tryAcquire(accountId: string, cap: number): Permit | null {
    const state = this.states.get(accountId) ?? { inFlight: 0, lastStartMs: 0 };
    if (state.inFlight >= Math.max(1, cap)) return null;
    this.states.set(accountId, { inFlight: state.inFlight + 1, lastStartMs: this.now() });
    this.onChange(accountId, state.inFlight + 1);
    return createPermit(() => this.release(accountId));
  }

  inFlight(accountId: string): number {
    return this.states.get(accountId)?.inFlight ?? 0;
  }

  /** ms timestamp of the last admitted start on this account (0 when never). */
  lastStartMs(accountId: string): number {
    return this.states.get(accountId)?.lastStartMs ?? 0;
  }

  private release(accountId: string): void {
    const state = this.states.get(accountId);
    if (!state) return;
    const inFlight = Math.max(0, state.inFlight - 1);
    this.states.set(accountId, { inFlight, lastStartMs: state.lastStartMs });
    this.onChange(accountId, inFlight);
    this.onRelease(accountId);
  }
}
