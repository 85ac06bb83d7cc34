import { InvalidArgumentError } from 'commander';
import { readDurationMs } from '../config/durations.js';
import { formatLimitRange, type FieldLimit } from '../config/field-limits.js';

const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * What a flag parser returns for "clear this value" (`unlimited`, `none`). Not null: commander turns
 * a parser's null into '' (its "option given without a value"), which would reach the service as text.
 */
export const CLEARED: unique symbol = Symbol('cleared');
/** The type of CLEARED. */
export type Cleared = typeof CLEARED;

/** Turns a parsed flag into the service's value: CLEARED → null, absent stays undefined. */
export const resolveClearable = <T>(value: T | Cleared | undefined): T | null | undefined => (value === CLEARED ? null : value);

/**
 * Parses a numeric flag. Only the shape is checked here (a plain decimal number); ranges are the
 * service's job, so the CLI and the admin API answer out-of-range values with the same message.
 * @throws InvalidArgumentError (commander prints it as one line and exits 1).
 */
export function parseNumberArg(raw: string): number {
  if (!NUMBER.test(raw.trim())) throw new InvalidArgumentError('must be a number');
  return Number(raw.trim());
}

/** A numeric flag's help: what the value means and its range, both from its FIELD_LIMITS entry. */
export const buildLimitFlagHelp = (limit: FieldLimit): string => `${limit.description} (${formatLimitRange(limit)})`;

/** Parses a limit flag: a number, or `unlimited` to clear the limit (CLEARED). */
export function parseLimitArg(raw: string): number | Cleared {
  if (raw.trim().toLowerCase() === 'unlimited') return CLEARED;
  if (!NUMBER.test(raw.trim())) throw new InvalidArgumentError("must be a number or 'unlimited'");
  return Number(raw.trim());
}

/** Parses `on` / `off` (the flag also restricts its choices, so help lists them). */
export function parseSwitchArg(raw: string): boolean {
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new InvalidArgumentError("must be 'on' or 'off'");
}

/** Parses a comma-separated list of names (`a,b`); blanks are dropped, and an empty list is refused. */
export function parseNameListArg(raw: string): string[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw new InvalidArgumentError('must name at least one item (a,b,…)');
  return names;
}

/** Parses a proxy flag: a URL (checked by the service), or `none` for a direct connection (CLEARED). */
export function parseProxyArg(raw: string): string | Cleared {
  return raw.trim().toLowerCase() === 'none' ? CLEARED : raw.trim();
}

/**
 * Parses `--expires`: `never` (clears), a duration from now (`30d`, `12h`, `90m`, `2w`), or a date-time
 * passed on as written (the service checks it: ISO-8601 with an offset, in the future).
 */
export function parseExpiresArg(raw: string, now: number = Date.now()): number | string | Cleared {
  const value = raw.trim();
  if (value.toLowerCase() === 'never') return CLEARED;
  const durationMs = readDurationMs(value);
  return durationMs === undefined ? value : now + durationMs;
}

/** Parses a duration flag (`--grace 1h`) into ms: `0`, or a number with a unit (m, h, d, w). */
export function parseDurationArg(raw: string): number {
  const value = raw.trim();
  if (value === '0') return 0;
  const durationMs = readDurationMs(value);
  if (durationMs === undefined) throw new InvalidArgumentError('must be 0 or a number with a unit: 90m, 12h, 7d, 1w');
  return durationMs;
}
