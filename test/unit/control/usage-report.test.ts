import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { UsageReportRow } from '../../../src/control/usage-types.js';
import { buildUsageReport, formatUsageReportCsv, listUsageReportCsvColumns } from '../../../src/control/usage-report.js';
import type { UsageRollupTotals } from '../../../src/store/usage-rollup-repo.js';
import { estimateLatencyQuantile, ROLLUP_MEASURES, USAGE_LATENCY_BUCKET_COUNT } from '../../../src/store/usage-rollups.js';

/** A group with `requests` requests, all in latency bucket `bucket`. */
function group(dims: Partial<UsageRollupTotals>, requests: number, bucket = 3): UsageRollupTotals {
  const totals = { ...dims, latencyBuckets: new Array<number>(USAGE_LATENCY_BUCKET_COUNT).fill(0) } as UsageRollupTotals;
  for (const m of ROLLUP_MEASURES) totals[m] = 0;
  totals.requests = requests;
  totals.successes = requests;
  totals.images = 2 * requests;
  totals.latencyBuckets[bucket] = requests;
  return totals;
}

const FRAME = { since: 0, until: 86_400_000, by: ['day', 'key'] as const, key: null, account: null };
const NAMES = { keys: new Map([['key_a', 'team, "A"']]), accounts: new Map<string, string>() };

describe('estimateLatencyQuantile', () => {
  it('interpolates inside the bucket that holds the rank, and is null for no requests', () => {
    const buckets = new Array<number>(USAGE_LATENCY_BUCKET_COUNT).fill(0);
    expect(estimateLatencyQuantile(buckets, 0.5)).toBeNull();
    buckets[0] = 10; // ≤ 100 ms
    buckets[3] = 10; // 500 < ms ≤ 1000
    expect(estimateLatencyQuantile(buckets, 0.5)).toBe(100);
    expect(estimateLatencyQuantile(buckets, 0.75)).toBe(750);
    expect(estimateLatencyQuantile(buckets, 0.95)).toBe(950);
  });

  it('puts requests above the last bound at that bound', () => {
    const buckets = new Array<number>(USAGE_LATENCY_BUCKET_COUNT).fill(0);
    buckets[USAGE_LATENCY_BUCKET_COUNT - 1] = 4;
    expect(estimateLatencyQuantile(buckets, 0.5)).toBe(300_000);
  });
});

describe('buildUsageReport', () => {
  it('adds names (null once deleted), percentiles and totals over every group', () => {
    const report = buildUsageReport(FRAME, [group({ day: 0, key: 'key_a' }, 3), group({ day: 0, key: 'key_gone' }, 1, 0)], NAMES);
    expect(report.rows.map((r) => [r.key, r.keyName, r.requests, r.latencyP50Ms])).toEqual([
      ['key_a', 'team, "A"', 3, 750],
      ['key_gone', null, 1, 50],
    ]);
    expect(report.totals).toMatchObject({ requests: 4, images: 8, successes: 4 });
    expect(report.totals.latencyBuckets.reduce((a, b) => a + b, 0)).toBe(4);
  });
});

describe('formatUsageReportCsv', () => {
  it('writes RFC 4180 CSV a CSV parser reads back into the same values, with the documented header', () => {
    const report = buildUsageReport(FRAME, [group({ day: 0, key: 'key_a' }, 3), group({ day: 86_400_000 - 3_600_000, key: 'key_gone' }, 1)], NAMES);
    const csv = formatUsageReportCsv(report);
    expect(csv.endsWith('\r\n')).toBe(true);
    const records = parse(csv, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(records[0]!)).toEqual(listUsageReportCsvColumns(['day', 'key']));
    expect(records.map((r) => [r.day, r.key_id, r.key_name, r.requests, r.images, r.latency_p50_ms])).toEqual([
      ['1970-01-01', 'key_a', 'team, "A"', '3', '6', '750'],
      ['1970-01-01', 'key_gone', '', '1', '2', '750'],
    ]);
  });

  it('defuses names a spreadsheet would run as a formula', () => {
    const rows: UsageReportRow[] = buildUsageReport(FRAME, [group({ day: 0, key: 'key_x' }, 1)], {
      ...NAMES,
      keys: new Map([['key_x', '=HYPERLINK("x")']]),
    }).rows;
    const [record] = parse(formatUsageReportCsv({ by: ['day', 'key'], rows }), { columns: true }) as Array<Record<string, string>>;
    expect(record!.key_name).toBe('\'=HYPERLINK("x")');
  });
});
