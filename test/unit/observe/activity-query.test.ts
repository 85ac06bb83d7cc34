import { describe, expect, it } from 'vitest';
import { filterActivity, selectRequestLines, type ActivityFilter } from '../../../src/observe/activity-query.js';
import { makeLogEvent } from '../../support/log-events.js';

const events = [
  makeLogEvent({ request_id: 'r3', ts: 30, key_id: 'key_2', key_name: 'beta', account_name: 'acct-b' }),
  makeLogEvent({ request_id: 'r2', ts: 20, event: 'exhausted', upstream_status: 502, error_class: 'account_pool_exhausted', account_name: null }),
  makeLogEvent({ request_id: 'r2', ts: 20, upstream_status: 429, error_class: 'rate_limited', account_name: 'acct-b' }),
  makeLogEvent({ request_id: 'r1', ts: 10, upstream_status: 200, error_class: 'stream_error' }),
  makeLogEvent({ request_id: 'r0', ts: 0 }),
];

describe('filterActivity', () => {
  it.each<{ filter: ActivityFilter; expected: string[] }>([
    { filter: {}, expected: ['r3', 'r2', 'r2', 'r1', 'r0'] },
    { filter: { key: 'beta' }, expected: ['r3'] },
    { filter: { key: 'key_2' }, expected: ['r3'] },
    { filter: { key: 'bet' }, expected: [] },
    { filter: { account: 'acct-b' }, expected: ['r3', 'r2'] },
    { filter: { status: '502' }, expected: ['r2'] },
    { filter: { status: 'success' }, expected: ['r3', 'r0'] },
    { filter: { status: 'failure' }, expected: ['r2', 'r2', 'r1'] },
    { filter: { status: '429' }, expected: ['r2'] },
    { filter: { status: '200' }, expected: ['r3', 'r1', 'r0'] },
    { filter: { errorClass: 'rate_limited' }, expected: ['r2'] },
    { filter: { account: 'acct-b', status: 'success' }, expected: ['r3'] },
    { filter: { limit: 2 }, expected: ['r3', 'r2'] },
    { filter: { limit: 0 }, expected: ['r3'] },
  ])('$filter → $expected', ({ filter, expected }) => {
    expect(filterActivity(events, filter).map((e) => e.request_id)).toEqual(expected);
  });
});

describe('selectRequestLines', () => {
  it('returns every line of one request in written order (attempts, then the ending), and nothing for an unknown id', () => {
    const lines = selectRequestLines(events, 'r2');
    expect(lines.map((e) => e.event)).toEqual(['attempt', 'exhausted']);
    expect(selectRequestLines(events, 'r9')).toEqual([]);
  });
});
