import type { UsageReport, UsageReportMeasures, UsageReportRow } from '../control/usage-types.js';
import { formatUsdMicros } from '../pricing/format-usd.js';
import type { UsageRollupGrouping } from '../store/usage-rollup-repo.js';
import { formatTable } from './print.js';

/** A time as ISO 8601 UTC to the second (`2026-11-30T12:00:00Z`). */
const formatInstant = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A key or account by name; by id, marked, when it was deleted since (the history outlives it). */
const formatRecordRef = (id: string, name: string | null | undefined): string => name ?? `${id} (deleted)`;

/** Each grouping's column: its header and a row's cell (names, not ids; times in UTC). */
const GROUP_COLUMNS = {
  key: ['KEY', (r) => (r.key === undefined ? '-' : formatRecordRef(r.key, r.keyName))],
  // A null account is a request no account answered (refused before dispatch, or every account busy).
  account: ['ACCOUNT', (r) => (r.account === undefined ? '-' : r.account === null ? '(none)' : formatRecordRef(r.account, r.accountName))],
  model: ['MODEL', (r) => r.model ?? '-'],
  endpoint: ['ENDPOINT', (r) => r.endpoint ?? '-'],
  day: ['DAY', (r) => (r.day === undefined ? '-' : formatInstant(r.day).slice(0, 10))],
  hour: ['HOUR', (r) => (r.hour === undefined ? '-' : `${formatInstant(r.hour).slice(0, 16)}Z`)],
} as const satisfies Record<UsageRollupGrouping, readonly [string, (row: UsageReportRow) => string]>;

/** Latency in seconds, one decimal (`1.2s`); `-` without requests. */
const formatLatency = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`);

/** The measure columns, after the groupings: what an operator reads first, kept under 80 columns for one grouping. */
const MEASURE_COLUMNS = [
  ['REQUESTS', (m) => String(m.requests)],
  ['OK', (m) => String(m.successes)],
  ['FAILED', (m) => String(m.failuresRateLimited + m.failuresClient + m.failuresUpstream + m.failuresAborted)],
  ['IMAGES', (m) => String(m.images)],
  ['TOKENS', (m) => String(m.totalTokens)],
  ['EST_COST', (m) => formatUsdMicros(m.estimatedCostMicros)],
  ['P50', (m) => formatLatency(m.latencyP50Ms)],
  ['P95', (m) => formatLatency(m.latencyP95Ms)],
] as const satisfies ReadonlyArray<readonly [string, (m: UsageReportMeasures) => string]>;

/** The line above the table: the range, the grouping and the filters (ids, as the report names them). */
function formatUsageTitle(report: UsageReport): string {
  const filters = [report.key === null ? '' : `, key ${report.key}`, report.account === null ? '' : `, account ${report.account}`].join('');
  return `usage from ${formatInstant(report.since)} to ${formatInstant(report.until)} by ${report.by.join(',')}${filters}`;
}

/**
 * The `usage` table: a title line, one row per group (grouping columns by name, then the measures,
 * right-aligned), a TOTAL row, and a line saying what P50/P95 and EST_COST are.
 */
export function formatUsageTable(report: UsageReport): string {
  const groups = report.by.map((g) => GROUP_COLUMNS[g]);
  const measures = (m: UsageReportMeasures): string[] => MEASURE_COLUMNS.map(([, cell]) => cell(m));
  const rows = report.rows.map((row) => [...groups.map(([, cell]) => cell(row)), ...measures(row)]);
  const totals = [...groups.map((_, i) => (i === 0 ? 'TOTAL' : '')), ...measures(report.totals)];
  const headers = [...groups.map(([header]) => header), ...MEASURE_COLUMNS.map(([header]) => header)];
  const alignRight = MEASURE_COLUMNS.map((_, i) => groups.length + i);
  const table = formatTable(headers, [...rows, totals], { alignRight });
  return [formatUsageTitle(report), table, 'P50/P95: request latency in seconds; EST_COST: an estimate from the price table'].join('\n');
}
