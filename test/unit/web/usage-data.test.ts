import { describe, expect, it } from 'vitest';
import type { UsageRow } from '../../../web/src/types.js';
import {
  MAX_STACKS,
  alignTimeline,
  buildPresetRange,
  buildStacks,
  buildUsagePath,
  describeGroup,
  listBuckets,
  parseCustomRange,
} from '../../../web/src/usage-data.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const NOW = Date.UTC(2025, 4, 20, 13, 25, 7);

/** A report row with every measure zero but those given. */
function row(fields: Partial<UsageRow>): UsageRow {
  return {
    requests: 0,
    successes: 0,
    failures_rate_limited: 0,
    failures_client: 0,
    failures_upstream: 0,
    failures_aborted: 0,
    images: 0,
    input_tokens: 0,
    image_input_tokens: 0,
    output_tokens: 0,
    total_tokens: 0,
    usage_missing: 0,
    estimated_cost_micros: 0,
    unpriced_requests: 0,
    upstream_bytes: 0,
    latency_ms_sum: 0,
    latency_buckets: [],
    latency_p50_ms: null,
    latency_p95_ms: null,
    ...fields,
  };
}

describe('buildPresetRange', () => {
  it.each([
    ['24h', 'hour', 24, Date.UTC(2025, 4, 20, 13)],
    ['7d', 'day', 7, Date.UTC(2025, 4, 20)],
    ['30d', 'day', 30, Date.UTC(2025, 4, 20)],
  ] as const)('%s: whole %s buckets, %i of them, the current one last', (preset, bucket, count, current) => {
    const range = buildPresetRange(preset, NOW);
    expect(range.bucket).toBe(bucket);
    expect(range.untilMs).toBe(NOW);
    const buckets = listBuckets(range);
    expect(buckets).toHaveLength(count);
    expect(buckets.at(-1)).toBe(current);
    expect(buckets[0]).toBe(range.sinceMs);
  });
});

describe('parseCustomRange', () => {
  it('covers both UTC days whole, in hours up to two days', () => {
    expect(parseCustomRange('2025-05-01', '2025-05-02')).toEqual({ sinceMs: Date.UTC(2025, 4, 1), untilMs: Date.UTC(2025, 4, 3), bucket: 'hour' });
    expect(parseCustomRange('2025-05-01', '2025-05-01').bucket).toBe('hour');
  });

  it('charts a longer range in days', () => {
    const range = parseCustomRange('2025-05-01', '2025-05-03');
    expect(range.bucket).toBe('day');
    expect(listBuckets(range)).toEqual([Date.UTC(2025, 4, 1), Date.UTC(2025, 4, 2), Date.UTC(2025, 4, 3)]);
  });

  it.each([
    ['', '2025-05-01', 'since must be a date'],
    ['2025-05-01', 'soon', 'until must be a date'],
    ['2025-05-02', '2025-05-01', 'until must not be before since'],
    ['2020-01-01', '2025-05-01', 'a range covers at most 1000 days'],
  ])('refuses %j – %j', (since, until, message) => {
    expect(() => parseCustomRange(since, until)).toThrow(message);
  });
});

describe('buildUsagePath', () => {
  it('names the range in ms and the groupings; csv only when asked', () => {
    const range = { sinceMs: 1000, untilMs: 2000 };
    expect(buildUsagePath(range, ['day', 'key'])).toBe('/usage?since=1000&until=2000&by=day%2Ckey');
    expect(buildUsagePath(range, ['key'], 'csv')).toBe('/usage?since=1000&until=2000&by=key&format=csv');
  });
});

describe('buildStacks', () => {
  const buckets = [0, HOUR, 2 * HOUR];

  it('gives each key its values per bucket (zero where it had none), most requests first', () => {
    const rows = [
      row({ hour: 0, key: 'k1', key_name: 'alpha', requests: 1, images: 1 }),
      row({ hour: 2 * HOUR, key: 'k1', key_name: 'alpha', requests: 2, images: 2 }),
      row({ hour: HOUR, key: 'k2', key_name: 'beta', requests: 5, images: 5 }),
    ];
    expect(buildStacks(rows, { buckets, group: 'key', measure: 'images' })).toEqual([
      { id: 'k2', label: 'beta', values: [0, 5, 0], total: 5 },
      { id: 'k1', label: 'alpha', values: [1, 0, 2], total: 3 },
    ]);
  });

  it('orders the groups the same whatever the measure, so each keeps its colour across charts', () => {
    const rows = [
      row({ hour: 0, key: 'k1', key_name: 'many-fail', requests: 9, images: 1 }),
      row({ hour: 0, key: 'k2', key_name: 'few-ok', requests: 3, images: 3 }),
    ];
    for (const measure of ['images', 'requests'] as const)
      expect(buildStacks(rows, { buckets, group: 'key', measure }).map((s) => s.label)).toEqual(['many-fail', 'few-ok']);
    expect(buildStacks(rows, { buckets, group: 'key', measure: 'images' }).map((s) => s.total)).toEqual([1, 3]);
  });

  it('leaves out rows outside the buckets and groups with neither requests nor images', () => {
    const rows = [row({ hour: 0, key: 'k1', key_name: 'a' }), row({ hour: 5 * HOUR, key: 'k2', key_name: 'b', requests: 9, images: 9 })];
    expect(buildStacks(rows, { buckets, group: 'key', measure: 'images' })).toEqual([]);
  });

  it(`sums the groups past the ${MAX_STACKS} largest into one "other" stack`, () => {
    const rows = Array.from({ length: MAX_STACKS + 2 }, (_, i) => row({ hour: HOUR, account: `a${i}`, account_name: `acct-${i}`, requests: i + 1 }));
    const stacks = buildStacks(rows, { buckets, group: 'account', measure: 'requests' });
    expect(stacks.map((s) => s.label)).toEqual(['acct-6', 'acct-5', 'acct-4', 'acct-3', 'acct-2', 'other (2)']);
    expect(stacks.at(-1)).toMatchObject({ values: [0, 3, 0], total: 3 });
    expect(stacks.reduce((n, s) => n + s.total, 0)).toBe(28);
  });
});

describe('describeGroup', () => {
  it.each([
    [{ key: 'k1', key_name: 'alpha' }, 'key', 'alpha'],
    [{ key: 'k1', key_name: null }, 'key', 'k1 (deleted)'],
    [{ account: 'a1', account_name: 'main' }, 'account', 'main'],
    [{ account: 'a1', account_name: null }, 'account', 'a1 (deleted)'],
    [{ account: null, account_name: null }, 'account', 'no account'],
  ] as const)('%j by %s → %s', (fields, group, label) => {
    expect(describeGroup(row(fields), group)).toBe(label);
  });
});

describe('alignTimeline', () => {
  it('places day rows on their buckets, null where none', () => {
    const a = row({ day: DAY, requests: 2 });
    expect(alignTimeline([a], [0, DAY, 2 * DAY])).toEqual([null, a, null]);
  });
});
