import { type AccountCooldown, type CooldownCause, fingerprintToken } from './account-health.js';

/**
 * How long a cooldown Redis named in a take is believed without asking again: planning leaves the
 * account out and says when it is back, and an operator's clear (or a new token) is seen within this
 * at worst (at once when the clear's message arrives).
 */
export const LEARNED_COOLDOWN_MS = 1_000;

interface Learned {
  cause: CooldownCause;
  untilMs: number;
  staleAtMs: number;
  /** For `auth`: the refused token's fingerprint (a new token ends it). */
  fingerprint: string | null;
}

/**
 * Cooldowns Redis named in recent takes, on this process's clock: the shared mode's view for
 * planning. Redis holds the one account health; this only saves asking it again for a moment.
 */
export class LearnedCooldowns {
  private readonly byAccount = new Map<string, Learned>();

  constructor(private readonly now: () => number) {}

  /** Believes `cause` until `untilMs` (this process's clock) for LEARNED_COOLDOWN_MS; `accessToken` is the account's current one. */
  learn(accountId: string, cause: CooldownCause, untilMs: number, accessToken: string | null): void {
    const fingerprint = cause === 'auth' && accessToken ? fingerprintToken(accessToken) : null;
    this.byAccount.set(accountId, { cause, untilMs, staleAtMs: this.now() + LEARNED_COOLDOWN_MS, fingerprint });
  }

  /** The cooldown still believed, or null (over, stale, or its refused token replaced: then forgotten). */
  peek(accountId: string, accessToken: string): AccountCooldown | null {
    const known = this.byAccount.get(accountId);
    if (!known) return null;
    const now = this.now();
    if (now >= known.untilMs || now >= known.staleAtMs || (known.fingerprint !== null && known.fingerprint !== fingerprintToken(accessToken))) {
      this.byAccount.delete(accountId);
      return null;
    }
    return { accountId, cause: known.cause, untilMs: known.untilMs, failures: 0, capped: false };
  }

  /** Forgets these accounts (an attempt reported, a release or a clear announced). */
  forget(accountIds: readonly string[]): void {
    for (const id of accountIds) this.byAccount.delete(id);
  }
}
