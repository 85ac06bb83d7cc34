import { DEFAULT_RETRY_AFTER_MS } from '../errors/retry-hint.js';
import type { FailureClass } from '../errors/failure-classes.js';
import { createPermit, type Permit } from './permit.js';

/** A key's throttle settings; null (or 0) disables a gate, as in the original. */
export interface KeyLimits {
  maxConcurrency: number | null;
  minStartIntervalMs: number | null;
}

export type KeyLimitReason = Extract<FailureClass, 'key_max_concurrency' | 'key_min_start_interval'>;

export type KeyAdmission =
  | { admitted: true; permit: Permit }
  | {
      admitted: false;
      reason: KeyLimitReason;
      inFlight: number;
      /**
       * How long until a retry could be admitted (ms, > 0): for the interval gate, the time until the
       * key's next start slot; for the concurrency gate, DEFAULT_RETRY_AFTER_MS (nobody knows when an
       * in-flight generation ends), or the next start slot when that is later.
       */
      retryAfterMs: number;
    };

interface KeyState {
  inFlight: number;
  lastStartMs: number | null;
}

/**
 * Per-key image throttle, in process memory. Two gates: in-flight < maxConcurrency, and at
 * least minStartIntervalMs since the last *admitted* start. Never waits: a request is admitted or refused.
 */
export class KeyLimiter {
  private readonly states = new Map<string, KeyState>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Admits one request for a key without waiting.
   * A rejection does not advance the interval clock; an admitted request that later fails still counts,
   * which deliberately throttles clients that retry while every account is down. The concurrency gate is
   * reported first when both fail. A refusal says how long to wait (`retryAfterMs`, for `retry-after`).
   */
  admit(keyId: string, limits: KeyLimits): KeyAdmission {
    const state = this.states.get(keyId) ?? { inFlight: 0, lastStartMs: null };
    const max = limits.maxConcurrency || null;
    const interval = limits.minStartIntervalMs || null;
    const now = this.now();
    const untilSlotMs = interval !== null && state.lastStartMs !== null ? state.lastStartMs + interval - now : 0;
    if (max !== null && state.inFlight >= max) {
      return { admitted: false, reason: 'key_max_concurrency', inFlight: state.inFlight, retryAfterMs: Math.max(DEFAULT_RETRY_AFTER_MS, untilSlotMs) };
    }
    if (untilSlotMs > 0) {
      return { admitted: false, reason: 'key_min_start_interval', inFlight: state.inFlight, retryAfterMs: untilSlotMs };
    }
    const next: KeyState = { inFlight: state.inFlight + 1, lastStartMs: interval !== null ? now : state.lastStartMs };
    this.states.set(keyId, next);
    return { admitted: true, permit: createPermit(() => this.release(keyId)) };
  }

  /** Requests of this key in flight now. */
  inFlight(keyId: string): number {
    return this.states.get(keyId)?.inFlight ?? 0;
  }

  private release(keyId: string): void {
    const state = this.states.get(keyId);
    if (!state) return;
    const inFlight = Math.max(0, state.inFlight - 1);
    // Entries of interval-limited keys keep their clock; others are dropped when idle to bound the map.
    if (inFlight === 0 && state.lastStartMs === null) this.states.delete(keyId);
    else this.states.set(keyId, { inFlight, lastStartMs: state.lastStartMs });
  }
}

/** The original's rejection text: `key image request limit reached: <reason> in_flight=… …`. */
export function describeKeyLimitRejection(reason: KeyLimitReason, inFlight: number, limits: KeyLimits): string {
  const max = limits.maxConcurrency ? String(limits.maxConcurrency) : 'unlimited';
  const interval = limits.minStartIntervalMs === null ? 'unlimited' : String(limits.minStartIntervalMs);
  return `key image request limit reached: ${reason} in_flight=${inFlight} request_max_concurrency=${max} request_min_start_interval_ms=${interval}`;
}
