import { buildLimitMessage, FIELD_LIMITS, isWithinLimit, type FieldLimit } from '../config/field-limits.js';
import { GatewayError } from '../errors/codes.js';
import { isRecordIdShaped } from './record-id.js';

/**
 * Parsers for control-plane input fields. Each takes untrusted input and returns a typed value or
 * throws GatewayError('invalid_request', message, param), with `param` the wire (snake_case) name.
 */

/** Control characters (C0, DEL, C1): never valid in a name. */
const CONTROL_CHARS = /\p{Cc}/u;

const invalid = (message: string, param: string) => new GatewayError('invalid_request', message, param);

/** The input must be a plain object holding only `allowed` keys (camelCase key → wire name). */
export function parseInputObject(input: unknown, allowed: Readonly<Record<string, string>>): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('request body must be a JSON object', 'body');
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined && !Object.hasOwn(allowed, key)) throw invalid(`unknown field \`${key}\``, key);
  }
  return input as Record<string, unknown>;
}

/** A record name: trimmed, within FIELD_LIMITS.recordName, no control characters, not shaped like a record id. */
export function parseName(value: unknown, param = 'name'): string {
  const name = typeof value === 'string' ? value.trim() : '';
  const { max } = FIELD_LIMITS.recordName;
  if (name === '') throw invalid(`${param} is required`, param);
  if (name.length > max) throw invalid(`${param} must be at most ${max} characters`, param);
  if (CONTROL_CHARS.test(name)) throw invalid(`${param} must not contain control characters`, param);
  if (isRecordIdShaped(name)) throw invalid(`${param} must not look like an id (key_…, acct_…, grp_…)`, param);
  return name;
}

/** `true` or `false`, nothing else (no "yes", no 1). */
export function parseBoolean(value: unknown, param: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`${param} must be true or false`, param);
  return value;
}

/** One of a fixed list of words. */
export function parseChoice<T extends string>(value: unknown, choices: readonly T[], param: string): T {
  const found = choices.find((choice) => choice === value);
  if (found === undefined) throw invalid(`${param} must be ${joinChoices(choices)}`, param);
  return found;
}

/** An integer within `limit` (a FIELD_LIMITS entry); the message is buildLimitMessage's. */
export function parseIntegerInRange(value: unknown, limit: FieldLimit, param: string): number {
  if (!isWithinLimit(value, limit)) throw invalid(buildLimitMessage(param, limit), param);
  return value;
}

/** Null (= unlimited) or an integer within `limit`. */
export function parseNullableIntegerInRange(value: unknown, limit: FieldLimit, param: string): number | null {
  return value === null ? null : parseIntegerInRange(value, limit, param);
}

/** The latest time a key may be set to expire: the year 9999, beyond which ISO-8601 needs extended years. */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Null (= never) or a point in time after `now`: milliseconds since the epoch, or an ISO-8601 date-time
 * with its offset (`2027-01-31T00:00:00Z`); a time already past is refused, since a typo there would
 * end a key at once without anybody noticing.
 */
export function parseNullableFutureTime(value: unknown, now: number, param: string): number | null {
  if (value === null) return null;
  const ms = typeof value === 'number' ? value : typeof value === 'string' && ISO_DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw invalid(`${param} must be null, milliseconds since the epoch or an ISO-8601 date-time with an offset (2027-01-31T00:00:00Z)`, param);
  }
  if (ms <= now) throw invalid(`${param} must be in the future (it is ${new Date(ms).toISOString()})`, param);
  return ms;
}

/** A date-time with seconds (fractions optional) and an offset: `Date.parse` reads it the same everywhere. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A list of distinct non-blank strings (record references, trimmed) with at least `minItems` entries. */
export function parseRefList(value: unknown, rule: { param: string; what: string; minItems: number }): string[] {
  const { param, what } = rule;
  if (!Array.isArray(value)) throw invalid(`${param} must be a list of ${what} names or ids`, param);
  if (value.length < rule.minItems) throw invalid(`${param} must list at least ${rule.minItems} ${what}`, param);
  const refs = value.map((item) => {
    if (typeof item !== 'string' || item.trim() === '') throw invalid(`${param} must hold ${what} names or ids`, param);
    return item.trim();
  });
  const repeated = refs.find((ref, i) => refs.indexOf(ref) !== i);
  if (repeated !== undefined) throw invalid(`${param} lists \`${repeated}\` twice`, param);
  return refs;
}

function joinChoices(choices: readonly string[]): string {
  return choices.length <= 1 ? (choices[0] ?? '') : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}
