import { ROLLUP_MEASURES, USAGE_LATENCY_BUCKET_COUNT, estimateLatencyQuantile } from '../store/usage-rollups.js';
import type { UsageRollupGrouping, UsageRollupMeasures, UsageRollupTotals } from '../store/usage-rollup-repo.js';
import { toSnakeName } from './admin-wire.js';
import type { UsageReport, UsageReportMeasures, UsageReportRow } from './usage-types.js';

/** Display names of the keys and accounts a report's rows name (absent: deleted since). */
export interface UsageReportNames {
  keys: ReadonlyMap<string, string>;
  accounts: ReadonlyMap<string, string>;
}

/** A rollup group's sums with the latency percentiles its histogram gives. */
function withPercentiles(measures: UsageRollupMeasures): UsageReportMeasures {
  return {
    ...measures,
    latencyP50Ms: estimateLatencyQuantile(measures.latencyBuckets, 0.5),
    latencyP95Ms: estimateLatencyQuantile(measures.latencyBuckets, 0.95),
  };
}

/** The sum of every group: the whole range's figures. */
function sumGroups(groups: readonly UsageRollupTotals[]): UsageRollupMeasures {
  const total = { latencyBuckets: new Array<number>(USAGE_LATENCY_BUCKET_COUNT).fill(0) } as UsageRollupMeasures;
  for (const m of ROLLUP_MEASURES) total[m] = 0;
  for (const group of groups) {
    for (const m of ROLLUP_MEASURES) total[m] += group[m];
    group.latencyBuckets.forEach((n, i) => {
      total.latencyBuckets[i]! += n;
    });
  }
  return total;
}

/** The report of a range: each group with names and percentiles added, and the totals. */
export function buildUsageReport(
  frame: Pick<UsageReport, 'since' | 'until' | 'by' | 'key' | 'account'>,
  groups: readonly UsageRollupTotals[],
  names: UsageReportNames,
): UsageReport {
  const rows = groups.map((group): UsageReportRow => {
    const row: UsageReportRow = withPercentiles(group);
    if (group.key !== undefined) row.keyName = names.keys.get(group.key) ?? null;
    if (group.account !== undefined) row.accountName = group.account === null ? null : (names.accounts.get(group.account) ?? null);
    return row;
  });
  return { ...frame, totals: withPercentiles(sumGroups(groups)), rows };
}

/** The CSV columns of each grouping, before the measures: ids with their display names, times in ISO 8601 UTC. */
const GROUP_COLUMNS = {
  key: [
    ['key_id', (r) => r.key],
    ['key_name', (r) => r.keyName],
  ],
  account: [
    ['account_id', (r) => r.account],
    ['account_name', (r) => r.accountName],
  ],
  model: [['model', (r) => r.model]],
  endpoint: [['endpoint', (r) => r.endpoint]],
  day: [['day', (r) => (r.day === undefined ? null : new Date(r.day).toISOString().slice(0, 10))]],
  hour: [['hour', (r) => (r.hour === undefined ? null : new Date(r.hour).toISOString().replace('.000Z', 'Z'))]],
} as const satisfies Record<UsageRollupGrouping, ReadonlyArray<readonly [string, (row: UsageReportRow) => string | number | null | undefined]>>;

/** The measure columns every CSV report ends with, in this order (the histogram itself stays out: its percentiles are in). */
export const USAGE_REPORT_MEASURE_COLUMNS = [...ROLLUP_MEASURES, 'latencyP50Ms', 'latencyP95Ms'] as const satisfies ReadonlyArray<keyof UsageReportMeasures>;

/** The header of a report's CSV: its groupings' columns, then USAGE_REPORT_MEASURE_COLUMNS in snake_case. */
export function listUsageReportCsvColumns(by: readonly UsageRollupGrouping[]): string[] {
  return [...by.flatMap((g) => GROUP_COLUMNS[g].map(([name]) => name)), ...USAGE_REPORT_MEASURE_COLUMNS.map(toSnakeName)];
}

/**
 * The report as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or line
 * break): a header, then one line per row. Empty fields are nulls (a deleted key's name, no account).
 */
export function formatUsageReportCsv(report: Pick<UsageReport, 'by' | 'rows'>): string {
  const getters = report.by.flatMap((g) => GROUP_COLUMNS[g].map(([, get]) => get));
  const lines = [listUsageReportCsvColumns(report.by).join(',')];
  for (const row of report.rows) {
    const fields = [...getters.map((get) => get(row)), ...USAGE_REPORT_MEASURE_COLUMNS.map((m) => row[m])];
    lines.push(fields.map(formatCsvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * One field. A name that a spreadsheet would read as a formula (=, +, -, @ first) gets a leading
 * apostrophe: key and account names are typed by people, and a report is opened in spreadsheets.
 */
function formatCsvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
