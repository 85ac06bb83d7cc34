/** In-flight request counting per account for the fake Codex upstream (current and highest seen). */

export interface ConcurrencyView {
  /** Requests in flight now for an account; without an id, for all accounts. */
  current(accountId?: string): number;
  /** Highest in-flight count seen for an account since start or `reset()`; without an id, for all. */
  max(accountId?: string): number;
  /** In flight now, all requests (also those without an identifiable account). */
  readonly total: number;
}

/** Counts requests from arrival until their response finishes or the client goes away. */
export class ConcurrencyCounter implements ConcurrencyView {
  private readonly currentBy = new Map<string, number>();
  private readonly maxBy = new Map<string, number>();
  private inFlight = 0;
  private maxInFlight = 0;

  /** Counts one request in; the returned function counts it out (only the first call counts). */
  begin(accountId: string | null): () => void {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (accountId !== null) {
      const now = (this.currentBy.get(accountId) ?? 0) + 1;
      this.currentBy.set(accountId, now);
      this.maxBy.set(accountId, Math.max(this.maxBy.get(accountId) ?? 0, now));
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight -= 1;
      if (accountId !== null) this.currentBy.set(accountId, (this.currentBy.get(accountId) ?? 1) - 1);
    };
  }

  current(accountId?: string): number {
    return accountId === undefined ? this.inFlight : (this.currentBy.get(accountId) ?? 0);
  }

  max(accountId?: string): number {
    return accountId === undefined ? this.maxInFlight : (this.maxBy.get(accountId) ?? 0);
  }

  get total(): number {
    return this.inFlight;
  }

  /** Forgets the maxima (used by the fake's reset(), which also drops every open request). */
  clearMaxima(): void {
    this.maxInFlight = 0;
    this.maxBy.clear();
  }
}
