import type { Lease } from './coord-types.js';

/**
 * The leases this process holds, renewed together every `everyMs` (a third of the lease TTL, so two
 * renewals may fail before a lease lapses). A released lease leaves the set before its release is
 * sent, so a renewal can never bring it back. The timer does not keep the process alive.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, Lease>();
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;

  constructor(
    private readonly renewAll: (leases: Lease[]) => Promise<unknown>,
    private readonly everyMs: number,
  ) {}

  add(leases: readonly Lease[]): void {
    for (const lease of leases) this.held.set(lease.id, lease);
  }

  remove(leases: readonly Lease[]): void {
    for (const lease of leases) this.held.delete(lease.id);
  }

  /** The leases held now. */
  list(): Lease[] {
    return [...this.held.values()];
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renewNow(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One renewal of every held lease; skipped while the previous one is still out, or when none is held. */
  private async renewNow(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    try {
      await this.renewAll(this.list());
    } catch {
      // An unreachable Redis: the connection's mode already says so, and the next tick tries again.
    } finally {
      this.renewing = false;
    }
  }
}
