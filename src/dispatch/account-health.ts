import { createHash } from 'node:crypto';
import type { AttemptRecord, SkipClass } from './exhaustion.js';

/** Why an account sits out: a usage limit, repeated failures, or credentials the upstream refused. */
export type CooldownCause = 'rate_limited' | 'upstream_failure' | 'auth';

/** How long accounts sit out (from config: RATE_LIMIT_COOLDOWN_CAP_MS, FAILURE_BACKOFF_*). */
export interface HealthPolicy {
  /** Longest pause after a 429 (and after a 401 whose credentials never change); then one re-probe. */
  rateLimitCapMs: number;
  /** First pause after a 5xx/timeout/network failure; doubles with each consecutive failure. */
  backoffBaseMs: number;
  /** Longest failure pause. */
  backoffMaxMs: number;
}

/** One account's cooldown as the status endpoint shows it (never a token: only a short fingerprint). */
export interface AccountCooldown {
  accountId: string;
  cause: CooldownCause;
  /** When the account may be tried again (ms since epoch). For `auth`: also earlier, once its credentials change. */
  untilMs: number;
  /** Consecutive 5xx/timeout/network failures (0 for other causes). */
  failures: number;
  /** The upstream asked for a longer wait than the cap; the first request after `untilMs` re-probes. */
  capped: boolean;
}

interface Entry extends AccountCooldown {
  /** For `auth`: fingerprint of the access token the upstream refused. */
  credentialsFingerprint: string | null;
}

/** What the tracker needs to know about an attempt. */
export type AttemptReport = Pick<AttemptRecord, 'accountId' | 'status' | 'errorClass' | 'retryAfterSeconds'>;

/**
 * After a capped rate-limit cooldown ends, the first request to try the account (not merely to plan
 * it) probes it; the others keep skipping it until the probe reports (or this long, if it never does).
 */
export const RATE_LIMIT_PROBE_HOLD_MS = 60_000;

/**
 * How an attempt refused by claimAttempt counts among the request's skips (nothing was sent): a
 * rate-limit cooldown as the 429 it stands for, an auth one as the 401, a failure backoff as a failed request.
 */
export const COOLDOWN_SKIP_CLASS: Readonly<Record<CooldownCause, SkipClass>> = {
  rate_limited: 'rate_limited',
  auth: 'auth',
  upstream_failure: 'upstream_request',
};

const FAILURE_CLASSES: ReadonlySet<string> = new Set(['upstream_server', 'upstream_timeout', 'upstream_request']);

/**
 * A short, one-way fingerprint of an access token: tells "the credentials changed" without keeping
 * (or ever showing) the token. 16 hex characters of SHA-256.
 */
export const fingerprintToken = (accessToken: string): string => createHash('sha256').update(accessToken).digest('hex').slice(0, 16);

/**
 * Per-process account health for image requests (the image limiter's own state: nothing else about
 * the account is tracked here). Pure apart from the injected clock: a 429 with a reset hint pauses
 * the account until the reset (capped; after the cap the first request that tries it probes while the
 * others keep skipping it, for at most RATE_LIMIT_PROBE_HOLD_MS); 5xx, timeouts and network failures pause it for
 * base·2^(n-1) (capped), reset by any answer that is not a failure; a 401 pauses it until its access
 * token changes (a refresh reached the snapshot) or the cap passes.
 */
export class AccountHealth {
  private readonly entries = new Map<string, Entry>();
  /** Consecutive failure counts survive an expired backoff, so growth continues until a success. */
  private readonly failureCounts = new Map<string, number>();

  constructor(
    private readonly policy: HealthPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records how one attempt ended. Client aborts and busy skips say nothing about the account. */
  report(attempt: AttemptReport, accessToken: string): void {
    const cls = attempt.errorClass;
    if (cls === 'client_aborted' || cls === 'concurrency_blocked' || cls === 'proxy_client' || cls === 'response_too_large') return;
    const at = this.now();
    if (cls === 'rate_limited' && attempt.retryAfterSeconds !== null) {
      this.setRateLimited(attempt.accountId, attempt.retryAfterSeconds, at);
    } else if (cls === 'auth' && attempt.status === 401) {
      this.setAuth(attempt.accountId, accessToken, at);
    } else if (cls !== null && (FAILURE_CLASSES.has(cls) || cls === 'rate_limited' || cls === 'auth')) {
      this.setFailure(attempt.accountId, at);
    } else {
      this.entries.delete(attempt.accountId);
      this.failureCounts.delete(attempt.accountId);
    }
  }

  /**
   * The account's active cooldown, or null when it may be tried (its current token decides an auth
   * cooldown). Pure: planning and status pages read with it, and it never takes the re-probe.
   */
  peekCooldown(accountId: string, accessToken: string | null): AccountCooldown | null {
    const entry = this.entries.get(accountId);
    return entry && this.isCooling(entry, accessToken, this.now()) ? toPublic(entry) : null;
  }

  /**
   * Called right before the account is really tried: the cooldown that refuses the attempt (it began,
   * or another request took the re-probe, since this one planned), or null to go ahead. Going ahead
   * after a capped rate-limit cooldown takes the re-probe: until the attempt reports (or
   * RATE_LIMIT_PROBE_HOLD_MS pass) every other request sees the account cooling down, so exactly one
   * request per process re-probes it. An ended cooldown of another kind is forgotten.
   */
  claimAttempt(accountId: string, accessToken: string | null): AccountCooldown | null {
    const entry = this.entries.get(accountId);
    if (!entry) return null;
    const now = this.now();
    if (this.isCooling(entry, accessToken, now)) return toPublic(entry);
    if (entry.cause === 'rate_limited' && entry.capped) {
      // This caller is the probe: the others wait for its answer (report() replaces this entry).
      this.entries.set(accountId, { ...entry, capped: false, untilMs: now + RATE_LIMIT_PROBE_HOLD_MS });
    } else {
      this.entries.delete(accountId);
    }
    return null;
  }

  /** Ends an account's cooldown now (operator action); its failure count starts over. False when it had none. */
  clear(accountId: string): boolean {
    this.failureCounts.delete(accountId);
    return this.entries.delete(accountId);
  }

  /** Every cooldown still running, soonest end first. */
  list(): AccountCooldown[] {
    const at = this.now();
    return [...this.entries.values()]
      .filter((e) => e.untilMs > at)
      .map(toPublic)
      .sort((a, b) => a.untilMs - b.untilMs);
  }

  /** Whether the entry still holds the account off at `now` (a changed token ends an auth cooldown). */
  private isCooling(entry: Entry, accessToken: string | null, now: number): boolean {
    const credentialsChanged = entry.cause === 'auth' && accessToken !== null && fingerprintToken(accessToken) !== entry.credentialsFingerprint;
    return now < entry.untilMs && !credentialsChanged;
  }

  private setRateLimited(accountId: string, retryAfterSeconds: number, at: number): void {
    const askedMs = retryAfterSeconds * 1000;
    const capped = askedMs > this.policy.rateLimitCapMs;
    const untilMs = at + Math.min(askedMs, this.policy.rateLimitCapMs);
    this.entries.set(accountId, { accountId, cause: 'rate_limited', untilMs, failures: 0, capped, credentialsFingerprint: null });
  }

  private setAuth(accountId: string, accessToken: string, at: number): void {
    const untilMs = at + this.policy.rateLimitCapMs;
    this.entries.set(accountId, { accountId, cause: 'auth', untilMs, failures: 0, capped: false, credentialsFingerprint: fingerprintToken(accessToken) });
  }

  private setFailure(accountId: string, at: number): void {
    const failures = (this.failureCounts.get(accountId) ?? 0) + 1;
    this.failureCounts.set(accountId, failures);
    const untilMs = at + computeBackoffMs(failures, this.policy);
    this.entries.set(accountId, { accountId, cause: 'upstream_failure', untilMs, failures, capped: false, credentialsFingerprint: null });
  }
}

/** The pause after `failures` consecutive failures: base·2^(failures-1), at most the policy's max. */
export function computeBackoffMs(failures: number, policy: Pick<HealthPolicy, 'backoffBaseMs' | 'backoffMaxMs'>): number {
  const exponent = Math.min(Math.max(0, failures - 1), 30);
  return Math.min(policy.backoffBaseMs * 2 ** exponent, policy.backoffMaxMs);
}

const toPublic = ({ credentialsFingerprint: _fp, ...cooldown }: Entry): AccountCooldown => cooldown;
