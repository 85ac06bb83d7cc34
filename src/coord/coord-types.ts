import type { FailureClass } from '../errors/failure-classes.js';

/**
 * What a lease holds a place in: an account's image concurrency, a key's max_concurrency, or a
 * key's shared wait queue (a waiter's ticket, renewed like any lease so a dead holder's lapses).
 */
export type LeaseScope = 'account' | 'key' | 'queue';

/**
 * One held place in Redis: a member of the owner's lease set, scored by its expiry. It counts as in
 * flight until released or, when its holder stops renewing it (a killed process), until it expires.
 */
export interface Lease {
  readonly scope: LeaseScope;
  /** The account id or the key id the place belongs to. */
  readonly ownerId: string;
  /** Unique per lease: `<holder id>:<sequence>`. */
  readonly id: string;
}

/** A key's gates, passed on a request's first admission only (later attempts hold the key's lease already). */
export interface KeyGate {
  keyId: string;
  /** Most requests of the key in flight at once; null (or 0) = no gate. */
  maxConcurrency: number | null;
  /** Least time between two admitted starts of the key, in ms; null (or 0) = no gate. */
  minStartIntervalMs: number | null;
}

/** An account the request may use, in the caller's preference order (the last tie-breaker). */
export interface AdmitCandidate {
  accountId: string;
  /** Image concurrency cap of the account (at least 1 is enforced). */
  cap: number;
  /**
   * Fingerprint of the account's current access token (null when it has none): a differing one ends
   * an `auth` cooldown, since the refused credentials were replaced.
   */
  tokenFingerprint: string | null;
}

/** One admission: plan and acquire in one atomic script call. */
export interface AdmitInput {
  /** Absent on failover attempts after the first: only an account is acquired. */
  keyGate?: KeyGate;
  candidates: readonly AdmitCandidate[];
}

/** Why an account could not be tried; the same causes as the in-process account health. */
export type CooldownCause = 'rate_limited' | 'upstream_failure' | 'auth';

/** An account sitting out, as one admission saw it. `untilMs` is on Redis's clock (see `serverNowMs`). */
export interface CoolingAccount {
  accountId: string;
  cause: CooldownCause;
  untilMs: number;
}

export type KeyRefusalReason = Extract<FailureClass, 'key_max_concurrency' | 'key_min_start_interval'>;

/** The outcome of one admission. */
export type AdmitResult =
  | {
      kind: 'admitted';
      accountId: string;
      accountLease: Lease;
      /** The key's lease when a key gate was given, else null. */
      keyLease: Lease | null;
      serverNowMs: number;
      /** The account has a health record (failures counted, a probe hold): a success must be reported to clear it. */
      healthRecorded: boolean;
    }
  | {
      /** A key gate refused: nothing was taken and the key's interval clock did not move. */
      kind: 'key_refused';
      reason: KeyRefusalReason;
      inFlight: number;
      /** How long until a retry could be admitted (ms, > 0), as the in-process key limiter computes it. */
      retryAfterMs: number;
    }
  | {
      /**
       * No candidate could be taken. When a key gate was given, the key was admitted all the same
       * (its lease is here and its interval clock moved, as the in-process limiter admits a key before
       * any account is tried): the caller holds `keyLease` while it waits, and releases it.
       */
      kind: 'none';
      keyLease: Lease | null;
      /** Candidates at their cap: a release of any of them may let the request in. */
      blockedAccountIds: string[];
      cooling: CoolingAccount[];
      serverNowMs: number;
      /**
       * When the soonest place on a blocked account lapses unless its holder renews it (Redis's
       * clock; null: none blocked). A lapse announces nothing: a waiter looks again at this time.
       */
      nextLapseMs: number | null;
    };

/** A waiter's place in its key's shared queue. */
export interface QueueTicket {
  keyId: string;
  /** Unique, like a lease id: `<holder id>:<sequence>`. */
  id: string;
  /** The accounts the waiter can use: another key's waiter leaves them to it when its turn is older. */
  accountIds: readonly string[];
}

/** The outcome of a waiter's take in the shared order. */
export type TurnResult =
  | Extract<AdmitResult, { kind: 'admitted' | 'none' }>
  | {
      /** Another waiter goes first (an older one of the same key, or a key with an older turn); nothing was taken. */
      kind: 'not_your_turn';
      serverNowMs: number;
      /** When the ticket that goes first lapses unless its holder renews it (Redis's clock): look again then. */
      untilMs: number | null;
    };

/** How an attempt on an account ended: the fields account health reads (the dispatch attempt record's). */
export interface HealthReport {
  status: number | null;
  errorClass: FailureClass | null;
  retryAfterSeconds: number | null;
}

/** How long accounts sit out (config: RATE_LIMIT_COOLDOWN_CAP_MS, FAILURE_BACKOFF_*), as the in-process health. */
export interface HealthPolicy {
  /** Longest pause after a 429 (and a 401); then exactly one instance re-probes. */
  rateLimitCapMs: number;
  /** First pause after a 5xx/timeout/network failure; doubles with each consecutive failure. */
  backoffBaseMs: number;
  /** Longest failure pause. */
  backoffMaxMs: number;
  /** How long the others skip an account whose capped rate-limit cooldown ended while one request probes it. */
  probeHoldMs: number;
}

/** One running cooldown, as status pages show it (soonest end first). Times on Redis's clock. */
export interface SharedCooldown {
  accountId: string;
  cause: CooldownCause;
  untilMs: number;
  /** Consecutive 5xx/timeout/network failures (0 for other causes). */
  failures: number;
  /** The upstream asked for a longer wait than the cap: the first admission after `untilMs` re-probes. */
  capped: boolean;
}

/** An account's shared load: live leases and the last admitted start (ms on Redis's clock, 0 = none known). */
export interface AccountLoad {
  inFlight: number;
  lastStartMs: number;
}

/** Images, tokens and estimated cost (micro-USD), in that order: what a key's budget counts. */
export type BudgetTriple = readonly [images: number, tokens: number, costMicros: number];

/** A reservation asked of a key's shared budget in one period. */
export interface SharedBudgetAsk {
  keyId: string;
  /** The period's start (ms) and the key's last usage reset (ms; 0 = never): together they name the period's state. */
  periodStartMs: number;
  resetAtMs: number;
  /** How long the period's state outlives its last use (ms): past the period's end, or a while for a lifetime budget. */
  keepMs: number;
  /** What the caller's database view says is used in the period, for the instance that starts the period's state. */
  seed: BudgetTriple;
  /** Each measure's limit; null = unlimited. */
  limits: readonly [number | null, number | null, number | null];
  ask: BudgetTriple;
}

/** A shared budget's answer: the reservation held (released with `settle`), or refused with the measure (0 images, 1 tokens, 2 cost) and what is used of it. */
export type SharedBudgetVerdict = { kind: 'held'; holdId: string } | { kind: 'refused'; measure: 0 | 1 | 2; used: number };
