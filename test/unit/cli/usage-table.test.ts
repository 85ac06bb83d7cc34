import { describe, expect, it } from 'vitest';
import { formatUsageOutput } from '../../../src/cli/usage-commands.js';
import { formatUsageTable } from '../../../src/cli/usage-table.js';
import type { UsageReport } from '../../../src/control/usage-types.js';
import { buildUsageReport, formatUsageReportCsv } from '../../../src/control/usage-report.js';
import type { UsageRollupGrouping, UsageRollupTotals } from '../../../src/store/usage-rollup-repo.js';
import { ROLLUP_MEASURES, USAGE_LATENCY_BUCKET_COUNT } from '../../../src/store/usage-rollups.js';

const DAY_MS = 86_400_000;
const SINCE = Date.UTC(2026, 10, 29, 12);

/** A group of `requests` requests (`failed` of them upstream failures), each with 2 images, 100 tokens and $0.042, all in latency bucket 3 (500..1000 ms). */
function group(dims: Partial<UsageRollupTotals>, requests: number, failed = 0): UsageRollupTotals {
  const totals = { ...dims, latencyBuckets: new Array<number>(USAGE_LATENCY_BUCKET_COUNT).fill(0) } as UsageRollupTotals;
  for (const m of ROLLUP_MEASURES) totals[m] = 0;
  Object.assign(totals, {
    requests,
    successes: requests - failed,
    failuresUpstream: failed,
    images: 2 * (requests - failed),
    totalTokens: 100 * requests,
    estimatedCostMicros: 42_000 * requests,
  });
  totals.latencyBuckets[3] = requests;
  return totals;
}

function report(by: UsageRollupGrouping[], groups: UsageRollupTotals[], filters: { key?: string; account?: string } = {}): UsageReport {
  const frame = { since: SINCE, until: SINCE + DAY_MS, by, key: filters.key ?? null, account: filters.account ?? null };
  const names = { keys: new Map([['key_a', 'alice']]), accounts: new Map([['acc_1', 'alpha@example.com']]) };
  return buildUsageReport(frame, groups, names);
}

describe('formatUsageTable', () => {
  it('by key: names (a deleted key by id), right-aligned measures, a TOTAL row and the legend, within 80 columns', () => {
    const text = formatUsageTable(report(['key'], [group({ key: 'key_a' }, 12, 2), group({ key: 'key_gone' }, 3)]));
    expect(text.split('\n')).toEqual([
      'usage from 2026-11-29T12:00:00Z to 2026-11-30T12:00:00Z by key',
      'KEY                 REQUESTS  OK  FAILED  IMAGES  TOKENS  EST_COST   P50   P95',
      'alice                     12  10       2      20    1200    $0.504  0.8s  1.0s',
      'key_gone (deleted)         3   3       0       6     300    $0.126  0.8s  1.0s',
      'TOTAL                     15  13       2      26    1500     $0.63  0.8s  1.0s',
      'P50/P95: request latency in seconds; EST_COST: an estimate from the price table',
    ]);
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it('by day and account: UTC days, account names, (none) for requests no account answered; the filters in the title', () => {
    const rows = [group({ day: SINCE - (SINCE % DAY_MS), account: 'acc_1' }, 1), group({ day: SINCE - (SINCE % DAY_MS), account: null }, 1, 1)];
    const lines = formatUsageTable(report(['day', 'account'], rows, { key: 'key_a' })).split('\n');
    expect(lines[0]).toBe('usage from 2026-11-29T12:00:00Z to 2026-11-30T12:00:00Z by day,account, key key_a');
    expect(lines[1]).toMatch(/^DAY {9}ACCOUNT {12}REQUESTS/);
    expect(lines[2]).toMatch(/^2026-11-29 {2}alpha@example\.com +1 +1 +0 +2 /);
    expect(lines[3]).toMatch(/^2026-11-29 {2}\(none\) +1 +0 +1 +0 /);
    expect(lines[4]).toMatch(/^TOTAL +2 +1 +1 +2 +200 +\$0\.084/);
  });

  it('by hour, model and endpoint; no requests show `-` latencies', () => {
    const hour = Date.UTC(2026, 10, 30, 7);
    expect(formatUsageTable(report(['hour', 'model'], [group({ hour, model: 'gpt-image-2' }, 1)])).split('\n')[2]).toMatch(
      /^2026-11-30T07:00Z {2}gpt-image-2 /,
    );
    const empty = formatUsageTable(report(['endpoint'], [])).split('\n');
    expect(empty.slice(1, 3)).toEqual([
      'ENDPOINT  REQUESTS  OK  FAILED  IMAGES  TOKENS  EST_COST  P50  P95',
      'TOTAL            0   0       0       0       0     $0.00    -    -',
    ]);
  });
});

describe('formatUsageOutput', () => {
  const r = report(['key'], [group({ key: 'key_a' }, 2)]);

  it('csv is the admin API CSV byte for byte (formatUsageReportCsv), with no newline added', () => {
    expect(formatUsageOutput(r, 'csv')).toBe(formatUsageReportCsv(r));
  });

  it('json is the snake_case wire view, one document', () => {
    const json = JSON.parse(formatUsageOutput(r, 'json')) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['since', 'until', 'by', 'key', 'account', 'totals', 'rows']);
    expect((json.rows as Array<Record<string, unknown>>)[0]).toMatchObject({
      key: 'key_a',
      key_name: 'alice',
      requests: 2,
      latency_p50_ms: 750,
      estimated_cost_micros: 84_000,
    });
  });

  it('table ends with one newline', () => expect(formatUsageOutput(r, 'table')).toBe(`${formatUsageTable(r)}\n`));
});
