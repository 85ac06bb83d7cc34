import { readDurationMs } from '../config/durations.js';
import { GatewayError } from '../errors/codes.js';
import { USAGE_ROLLUP_GROUPINGS, USAGE_TIME_GROUPINGS, type UsageRollupGrouping } from '../store/usage-rollup-repo.js';
import type { UsageReportQuery } from './usage-types.js';

/** The range a report covers when the query names none: the last 24 hours. */
export const DEFAULT_USAGE_REPORT_RANGE_MS = 24 * 3_600_000;

/**
 * A report's parameters as the admin API's query string and the CLI's flags carry them: text, absent
 * or empty for the default. Unknown until parsed: a repeated query parameter arrives as an array.
 */
export type UsageReportParams = Partial<Record<'since' | 'until' | 'by' | 'key' | 'account', unknown>>;

/** A parameter's text, trimmed; '' when absent (an array, from a repeated parameter, joins with commas and fails its check). */
const readParam = (value: unknown): string => (value === undefined || value === null ? '' : String(value).trim());

/**
 * The report a query string or the `usage` command's flags ask for: the one parser of both, so the
 * admin API and the CLI accept the same values and refuse the rest with the same message.
 * @throws GatewayError('invalid_request') naming the bad parameter
 */
export function parseUsageReportQuery(params: UsageReportParams, nowMs: number): UsageReportQuery {
  const untilMs = parseUsageInstant(params.until, 'until', nowMs) ?? nowMs;
  const sinceMs = parseUsageInstant(params.since, 'since', nowMs) ?? untilMs - DEFAULT_USAGE_REPORT_RANGE_MS;
  if (sinceMs >= untilMs) throw new GatewayError('invalid_request', 'since must be before until', 'since');
  const query: UsageReportQuery = { sinceMs, untilMs, by: parseUsageGroupings(params.by) };
  const key = readParam(params.key);
  const account = readParam(params.account);
  if (key !== '') query.key = key;
  if (account !== '') query.account = account;
  return query;
}

/** One or two groupings joined by a comma (default `key`), at most one of them a time. */
function parseUsageGroupings(value: unknown): UsageRollupGrouping[] {
  const text = readParam(value);
  if (text === '') return ['key'];
  const by = text.split(',').map((g) => g.trim());
  const allowed = USAGE_ROLLUP_GROUPINGS as readonly string[];
  const unknown = by.find((g) => !allowed.includes(g));
  if (unknown !== undefined) throw new GatewayError('invalid_request', `by must be one or two of ${USAGE_ROLLUP_GROUPINGS.join(', ')}, comma-separated`, 'by');
  if (by.length > 2 || new Set(by).size !== by.length) throw new GatewayError('invalid_request', 'by takes one or two different groupings', 'by');
  if (by.filter((g) => USAGE_TIME_GROUPINGS.has(g as UsageRollupGrouping)).length > 1)
    throw new GatewayError('invalid_request', 'by takes at most one of day and hour', 'by');
  return by as UsageRollupGrouping[];
}

/**
 * A point in time: ms since epoch (digits), an ISO 8601 date or date-time, or a duration before
 * `nowMs` (`24h`, `7d`, `30d`: readDurationMs); undefined when absent.
 */
function parseUsageInstant(value: unknown, name: 'since' | 'until', nowMs: number): number | undefined {
  const text = readParam(value);
  if (text === '') return undefined;
  const ms = readInstantMs(text, nowMs);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new GatewayError('invalid_request', `${name} must be ms since epoch, an ISO 8601 time or a duration before now (24h, 7d, 30d)`, name);
  }
  return ms;
}

/** The ms a time text names; NaN when it is none of the forms. */
function readInstantMs(text: string, nowMs: number): number {
  if (/^\d+$/.test(text)) return Number(text);
  const durationMs = readDurationMs(text);
  if (durationMs !== undefined) return nowMs - durationMs;
  // Date.parse alone is too lenient ('-5' is a year): an ISO time starts with its four-digit year.
  return /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
}
