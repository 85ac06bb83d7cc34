import type { LeaseScope } from './coord-types.js';

/**
 * The Redis key names, all under one prefix (REDIS_KEY_PREFIX), so one Redis can serve several
 * gateways and nothing else collides. Every script receives its keys as KEYS, never builds one:
 * with a hash tag in the prefix (`{cig}:`) every key lands in one Redis Cluster slot and the
 * scripts stay valid there.
 */
export interface CoordKeys {
  /** Sorted set: lease ids of an account or key, scored by expiry (ms, Redis clock). */
  leases(scope: LeaseScope, ownerId: string): string;
  /** String: ms of the last admitted start of an account (load spreading) or key (min_start_interval). */
  lastStart(scope: LeaseScope, ownerId: string): string;
  /** Hash: an account's cooldown (cause, until, capped, fp) and consecutive failure count (fails). */
  health(accountId: string): string;
  /** Sorted set: accounts with a cooldown, scored by its end, so listCooldowns needs no SCAN. */
  readonly cooldownIndex: string;
  /** Pub/sub channel: JSON arrays of account ids whose places were freed. */
  readonly freedChannel: string;
  /**
   * A key's shared wait queue: `order` (sorted set: ticket ids by their place, from `queueSequence`),
   * `leases` (sorted set: ticket ids by expiry, the `queue` lease set renewed with the other leases),
   * `accounts` (hash: ticket id → JSON array of the account ids it can use).
   */
  queue(keyId: string): { order: string; leases: string; accounts: string };
  /** The prefix of every key's queue: the queue-turn script reaches other keys' queues by name under it. */
  readonly queuePrefix: string;
  /** Set: ids of the keys with tickets. */
  readonly queueWaiting: string;
  /** Hash: key id → its turn (the sequence value of its last grant from the queue; none = 0, first). */
  readonly queueTurns: string;
  /** String: the sequence that orders tickets and grants. */
  readonly queueSequence: string;
  /** A key's budget in one period (named by its start and the key's last reset): the state hash and the reservations' expiry set. */
  budget(keyId: string, periodStartMs: number, resetAtMs: number): readonly [state: string, holds: string];
}

/** Builds the key names under `prefix`. */
export function buildCoordKeys(prefix: string): CoordKeys {
  return {
    leases: (scope, ownerId) => `${prefix}${scope}:${ownerId}:leases`,
    lastStart: (scope, ownerId) => `${prefix}${scope}:${ownerId}:start`,
    health: (accountId) => `${prefix}account:${accountId}:health`,
    cooldownIndex: `${prefix}cooldowns`,
    freedChannel: `${prefix}freed`,
    queue: (keyId) => ({
      order: `${prefix}queue:${keyId}:order`,
      leases: `${prefix}queue:${keyId}:leases`,
      accounts: `${prefix}queue:${keyId}:accounts`,
    }),
    queuePrefix: `${prefix}queue:`,
    queueWaiting: `${prefix}queue-waiting`,
    queueTurns: `${prefix}queue-turns`,
    queueSequence: `${prefix}queue-sequence`,
    budget: (keyId, periodStartMs, resetAtMs) => [
      `${prefix}budget:${keyId}:${periodStartMs}:${resetAtMs}`,
      `${prefix}budget:${keyId}:${periodStartMs}:${resetAtMs}:holds`,
    ],
  };
}
