/** One request body's share of the budget: it can grow while the body is read, and is given back once. */
export interface BodyCharge {
  /**
   * Adds `bytes` to this charge when they fit under the limit, or when this is the only body being
   * read (a lone body is never refused); returns false, charging nothing, when they do not.
   */
  grow(bytes: number): boolean;
  /** Gives the whole charge back (idempotent). */
  release(): void;
}

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
   * Charges `bytes` when they fit under the limit; returns the charge, or null when the budget
   * cannot take them now. A lone charge always fits an idle budget, so a body larger than the whole
   * budget is still served when nothing else is being read.
   */
  tryCharge(bytes: number): BodyCharge | null {
    if (!this.fits(bytes, 0)) return null;
    this.used += bytes;
    let own = bytes;
    let released = false;
    return {
      grow: (more) => {
        if (released || !this.fits(more, own)) return false;
        this.used += more;
        own += more;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.used -= own;
      },
    };
  }

  /** Bytes charged now (for tests and the status page). */
  get inUse(): number {
    return this.used;
  }

  /** Whether `bytes` more fit, for a charge already holding `own` of what is used. */
  private fits(bytes: number, own: number): boolean {
    return this.limit === 0 || this.used === own || this.used + bytes <= this.limit;
  }
}
