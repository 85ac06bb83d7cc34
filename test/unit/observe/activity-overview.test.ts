import { describe, expect, it } from 'vitest';
import { buildActivityOverview, computeQuantile } from '../../../src/observe/activity-overview.js';
import { makeLogEvent } from '../../support/log-events.js';

const MIN = 60_000;
const NOW = 1_000 * MIN + 30_000; // half-way through minute 1000

describe('computeQuantile', () => {
  it.each([
    { values: [], q: 0.5, expected: null },
    { values: [7], q: 0.95, expected: 7 },
    { values: [1, 2, 3, 4], q: 0.5, expected: 2 },
    { values: [1, 2, 3, 4], q: 0.95, expected: 4 },
    { values: Array.from({ length: 100 }, (_v, i) => i + 1), q: 0.95, expected: 95 },
  ])('q=$q of $values.length values → $expected', ({ values, q, expected }) => {
    expect(computeQuantile(values, q)).toBe(expected);
  });
});

describe('buildActivityOverview', () => {
  const written = [
    // minute 1000: a success after one failover (two lines, one request), and a plain success with 2 images
    makeLogEvent({ request_id: 'a', ts: 1_000 * MIN + 1_000, upstream_status: 429, error_class: 'rate_limited', account_name: 'x', duration_ms: 50 }),
    makeLogEvent({ request_id: 'a', ts: 1_000 * MIN + 1_000, account_name: 'y', duration_ms: 300, response_image_count: 1 }),
    makeLogEvent({ request_id: 'b', ts: 1_000 * MIN + 2_000, account_name: 'y', duration_ms: 100, response_image_count: 2 }),
    // minute 998: an exhausted request (no account line) and a stream error on a 200
    makeLogEvent({
      request_id: 'c',
      ts: 998 * MIN,
      event: 'exhausted',
      account_name: null,
      upstream_status: 503,
      error_class: 'no_usable_accounts',
      duration_ms: 5,
    }),
    makeLogEvent({ request_id: 'd', ts: 998 * MIN + 59_999, error_class: 'stream_error', account_name: 'x', duration_ms: 900 }),
    // outside the 3-minute window: before it, and in the future
    makeLogEvent({ request_id: 'old', ts: 997 * MIN + 59_999 }),
    makeLogEvent({ request_id: 'future', ts: 1_001 * MIN }),
  ];
  const events = [...written].reverse(); // newest first, as the buffer lists them

  it('buckets requests by the minute of their final line, oldest minute first', () => {
    const o = buildActivityOverview(events, 3, NOW);
    expect(o.from).toBe(998 * MIN);
    expect(o.series.map((m) => m.minute)).toEqual([998 * MIN, 999 * MIN, 1_000 * MIN]);
    expect(o.series.map((m) => [m.requests, m.successes, m.failures, m.images])).toEqual([
      [2, 0, 2, 0],
      [0, 0, 0, 0],
      [2, 2, 0, 3],
    ]);
    expect(o.series[0]!.failuresByClass).toEqual({ no_usable_accounts: 1, stream_error: 1 });
    expect(o.totals).toEqual({ requests: 4, images: 3, successes: 2, failures: 2 });
  });

  it('latency percentiles use the final line of each request only; empty minutes have none', () => {
    const o = buildActivityOverview(events, 3, NOW);
    expect([o.series[2]!.latencyP50Ms, o.series[2]!.latencyP95Ms]).toEqual([100, 300]);
    expect([o.series[1]!.latencyP50Ms, o.series[1]!.latencyP95Ms]).toEqual([null, null]);
    expect([o.series[0]!.latencyP50Ms, o.series[0]!.latencyP95Ms]).toEqual([5, 900]);
  });

  it('account load counts every attempt line in the window, busiest first', () => {
    expect(buildActivityOverview(events, 3, NOW).accounts).toEqual([
      { account: 'x', attempts: 2, failures: 2 },
      { account: 'y', attempts: 2, failures: 0 },
    ]);
  });

  it('a failure without an error class is named by its status', () => {
    const o = buildActivityOverview([makeLogEvent({ ts: NOW, upstream_status: 500 })], 1, NOW);
    expect(o.totals.failures).toBe(1);
    expect(o.series[0]!.failuresByClass).toEqual({ http_500: 1 });
  });
});
