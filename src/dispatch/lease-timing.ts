import type { Lease } from '../coord/coord-types.js';

/** Looked again this long after a place's lapse time, so the lapse is surely past on Redis's clock. */
const LAPSE_MARGIN_MS = 10;

/**
 * Leases freed in the same turn, released together: a request's account and key places cost one
 * call. Shutdown waits for the calls on their way (`settle`).
 */
export class LeaseReleaseBatch {
  private readonly pending: Lease[] = [];
  private scheduled = false;
  private readonly sending = new Set<Promise<unknown>>();

  constructor(private readonly send: (leases: Lease[]) => Promise<unknown>) {}

  release(lease: Lease): void {
    this.pending.push(lease);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const sent = this.send(this.pending.splice(0)).finally(() => this.sending.delete(sent));
      this.sending.add(sent);
    });
  }

  /** Resolves once every release already asked for has been answered (or held back for Redis's return). */
  async settle(): Promise<void> {
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    await Promise.all([...this.sending]);
  }
}

/**
 * Wakes the waiters of some accounts when the soonest blocking place (or ticket) lapses: if its
 * holder died it is not renewed, and a lapse announces nothing on the freed channel. Only the
 * soonest time is kept: if the place was renewed, the take then finds the next one and sets the
 * alarm again.
 */
export class LapseAlarm {
  private armed: { timer: NodeJS.Timeout; atMs: number; accountIds: Set<string> } | null = null;

  constructor(
    private readonly wake: ((accountIds: string[]) => void) | undefined,
    private readonly now: () => number,
  ) {}

  /** Wakes `accountIds`' waiters at `atMs` (this process's clock), or with the sooner alarm already set. */
  at(accountIds: readonly string[], atMs: number): void {
    const wake = this.wake;
    if (!wake || accountIds.length === 0) return;
    if (this.armed && this.armed.atMs <= atMs) {
      for (const id of accountIds) this.armed.accountIds.add(id);
      return;
    }
    const ids = new Set([...(this.armed?.accountIds ?? []), ...accountIds]);
    this.stop();
    const timer = setTimeout(
      () => {
        this.armed = null;
        wake([...ids]);
      },
      Math.max(0, atMs - this.now()) + LAPSE_MARGIN_MS,
    );
    timer.unref();
    this.armed = { timer, atMs, accountIds: ids };
  }

  /** Disarms (shutdown). */
  stop(): void {
    if (this.armed) clearTimeout(this.armed.timer);
    this.armed = null;
  }
}
