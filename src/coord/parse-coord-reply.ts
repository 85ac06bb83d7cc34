import { CoordinationError } from './coordination-error.js';
import type { AccountLoad, CooldownCause, CoolingAccount, KeyRefusalReason, SharedCooldown } from './coord-types.js';

/**
 * The admission script's reply, typed (see admit-script.ts for its shape). Leases are attached by
 * the caller, which chose their ids.
 */
export type AdmitReply =
  | { kind: 'admitted'; accountId: string; keyTaken: boolean; serverNowMs: number; healthRecorded: boolean }
  | { kind: 'key_refused'; reason: KeyRefusalReason; inFlight: number; retryAfterMs: number }
  | { kind: 'none'; keyTaken: boolean; blockedAccountIds: string[]; cooling: CoolingAccount[]; serverNowMs: number; nextLapseMs: number | null };

const KEY_REASONS: readonly KeyRefusalReason[] = ['key_max_concurrency', 'key_min_start_interval'];
const CAUSES: readonly CooldownCause[] = ['rate_limited', 'upstream_failure', 'auth'];

const malformed = (what: string): CoordinationError => new CoordinationError('coordination_failed', `redis: malformed ${what} reply`);

const asArray = (value: unknown, what: string): unknown[] => {
  if (!Array.isArray(value)) throw malformed(what);
  return value;
};

const asNumber = (value: unknown, what: string): number => {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw malformed(what);
  return n;
};

const asString = (value: unknown, what: string): string => {
  if (typeof value !== 'string') throw malformed(what);
  return value;
};

const asOneOf = <T extends string>(value: unknown, allowed: readonly T[], what: string): T => {
  if (!allowed.includes(value as T)) throw malformed(what);
  return value as T;
};

/** Parses the admission script's reply. */
export function parseAdmitReply(reply: unknown): AdmitReply {
  const [kind, ...rest] = asArray(reply, 'admit');
  switch (kind) {
    case 'admitted':
      return { kind, accountId: asString(rest[0], 'admit'), keyTaken: rest[1] === 1, serverNowMs: asNumber(rest[2], 'admit'), healthRecorded: rest[3] === 1 };
    case 'key_refused':
      return {
        kind,
        reason: asOneOf(rest[0], KEY_REASONS, 'admit'),
        inFlight: asNumber(rest[1], 'admit'),
        retryAfterMs: Math.max(1, asNumber(rest[2], 'admit')),
      };
    case 'none':
      return {
        kind,
        keyTaken: rest[0] === 1,
        blockedAccountIds: asArray(rest[1], 'admit').map((id) => asString(id, 'admit')),
        cooling: asArray(rest[2], 'admit').map(parseCooling),
        serverNowMs: asNumber(rest[3], 'admit'),
        nextLapseMs: asNumber(rest[4], 'admit') || null,
      };
    default:
      throw malformed('admit');
  }
}

/** The queue-turn script's reply: 'not_your_turn', or the admission script's 'none' and 'admitted'. */
export type TurnReply = Exclude<AdmitReply, { kind: 'key_refused' }> | { kind: 'not_your_turn'; serverNowMs: number; untilMs: number | null };

/** Parses the queue-turn script's reply. */
export function parseTurnReply(reply: unknown): TurnReply {
  const [kind, ...rest] = asArray(reply, 'turn');
  if (kind === 'not_your_turn') return { kind, serverNowMs: asNumber(rest[0], 'turn'), untilMs: asNumber(rest[1], 'turn') || null };
  const parsed = parseAdmitReply(reply);
  if (parsed.kind === 'key_refused') throw malformed('turn');
  return parsed;
}

function parseCooling(entry: unknown): CoolingAccount {
  const [accountId, cause, untilMs] = asArray(entry, 'admit');
  return { accountId: asString(accountId, 'admit'), cause: asOneOf(cause, CAUSES, 'admit'), untilMs: asNumber(untilMs, 'admit') };
}

/** Parses the load script's flat reply for `accountIds`, in the same order. */
export function parseLoadReply(reply: unknown, accountIds: readonly string[]): Map<string, AccountLoad> {
  const values = asArray(reply, 'load').map((v) => asNumber(v, 'load'));
  if (values.length !== accountIds.length * 2) throw malformed('load');
  return new Map(accountIds.map((id, i) => [id, { inFlight: values[2 * i] as number, lastStartMs: values[2 * i + 1] as number }]));
}

/**
 * Builds one listed cooldown from its health hash fields (cause, until, fails, capped), or null when
 * the hash no longer holds a running cooldown at `nowMs`.
 */
export function parseCooldownFields(accountId: string, fields: unknown, nowMs: number): SharedCooldown | null {
  const [cause, until, fails, capped] = asArray(fields, 'cooldown');
  if (!CAUSES.includes(cause as CooldownCause) || until === null) return null;
  const untilMs = asNumber(until, 'cooldown');
  if (untilMs <= nowMs) return null;
  const failures = cause === 'upstream_failure' && fails !== null ? asNumber(fails, 'cooldown') : 0;
  return { accountId, cause: cause as CooldownCause, untilMs, failures, capped: capped === '1' };
}

/** Parses a TIME reply (seconds, microseconds) into ms. */
export function parseTimeReply(reply: unknown): number {
  const [seconds, micros] = asArray(reply, 'time').map((v) => asNumber(v, 'time'));
  if (seconds === undefined || micros === undefined) throw malformed('time');
  return seconds * 1000 + Math.floor(micros / 1000);
}

/** Parses a published freed message (a JSON array of account ids); anything else is ignored as empty. */
export function parseFreedMessage(message: string): string[] {
  try {
    const value: unknown = JSON.parse(message);
    return Array.isArray(value) ? value.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}
