/**
 * The process-wide budget of request-body bytes being read at once (MAX_BODY_BYTES_IN_FLIGHT): a
 * key holder within its own limits could otherwise send many maximum-size bodies in parallel and
 * grow memory without bound. Pure accounting; the HTTP side decides what a request is charged.
 */
export class BodyBudget {
  private used = 0;

  /** `limit` bytes in all; 0 = no budget (every charge is admitted). */
  constructor(private readonly limit: number) {}

  /**
   * Charges `bytes` when they fit under the limit; returns a release function (idempotent), or
   * null when the budget cannot take them now. A lone charge always fits an idle budget, so a
   * body larger than the whole budget is still served when nothing else is being read.
   */
  tryCharge(bytes: number): (() => void) | null {
    if (this.limit > 0 && this.used > 0 && this.used + bytes > this.limit) return null;
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
    };
  }

  /** Bytes charged now (for tests and the status page). */
  get inUse(): number {
    return this.used;
  }
}
