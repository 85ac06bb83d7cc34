import { describe, expect, it } from 'vitest';
import { parseUsageReportQuery } from '../../../src/control/usage-report-query.js';

const NOW = Date.UTC(2026, 10, 30, 12);
const HOUR_MS = 3_600_000;

describe('parseUsageReportQuery', () => {
  it('defaults to the last 24 hours by key, over every key and account', () => {
    expect(parseUsageReportQuery({}, NOW)).toEqual({ sinceMs: NOW - 24 * HOUR_MS, untilMs: NOW, by: ['key'] });
    expect(parseUsageReportQuery({ since: '', until: ' ', by: '', key: '', account: ' ' }, NOW)).toEqual({
      sinceMs: NOW - 24 * HOUR_MS,
      untilMs: NOW,
      by: ['key'],
    });
  });

  it('takes ms since epoch or ISO 8601 times, any grouping of the table, and key and account filters (trimmed)', () => {
    expect(parseUsageReportQuery({ since: '2026-11-01T00:00:00Z', until: String(NOW), by: 'day', key: ' team-a ', account: 'acct' }, NOW)).toEqual({
      sinceMs: Date.UTC(2026, 10, 1),
      untilMs: NOW,
      by: ['day'],
      key: 'team-a',
      account: 'acct',
    });
    expect(parseUsageReportQuery({ since: '2026-11-01' }, NOW).sinceMs).toBe(Date.UTC(2026, 10, 1));
    for (const by of ['key', 'account', 'model', 'endpoint', 'day', 'hour']) expect(parseUsageReportQuery({ by }, NOW).by).toEqual([by]);
  });

  it.each([
    ['24h', 24 * HOUR_MS],
    ['7d', 7 * 24 * HOUR_MS],
    ['30d', 30 * 24 * HOUR_MS],
    ['90m', 90 * 60_000],
    ['2w', 14 * 24 * HOUR_MS],
  ])('reads %s as that long before now', (since, agoMs) => {
    expect(parseUsageReportQuery({ since }, NOW)).toMatchObject({ sinceMs: NOW - agoMs, untilMs: NOW });
  });

  it('a relative until ends the range that long before now, and the default since is 24 hours before it', () => {
    expect(parseUsageReportQuery({ until: '1d' }, NOW)).toMatchObject({ sinceMs: NOW - 48 * HOUR_MS, untilMs: NOW - 24 * HOUR_MS });
    expect(parseUsageReportQuery({ since: '7d', until: '1d' }, NOW)).toMatchObject({ sinceMs: NOW - 168 * HOUR_MS, untilMs: NOW - 24 * HOUR_MS });
  });

  it('takes two groupings, time first or second, in the order given', () => {
    expect(parseUsageReportQuery({ by: 'day,key' }, NOW).by).toEqual(['day', 'key']);
    expect(parseUsageReportQuery({ by: 'account, hour' }, NOW).by).toEqual(['account', 'hour']);
  });

  it.each([
    [{ since: 'yesterday' }, 'since'],
    [{ since: '7y' }, 'since'],
    [{ since: '1.5d' }, 'since'],
    [{ since: '-7d' }, 'since'],
    [{ since: '999999w' }, 'since'],
    [{ since: ['1', '2'] }, 'since'],
    [{ until: '-5' }, 'until'],
    [{ until: '2026-13-45' }, 'until'],
    [{ since: String(NOW), until: String(NOW) }, 'since'],
    [{ since: '1d', until: '2d' }, 'since'],
    [{ by: 'week' }, 'by'],
    [{ by: 'Key' }, 'by'],
    [{ by: 'key,key' }, 'by'],
    [{ by: 'day,hour' }, 'by'],
    [{ by: 'key,account,model' }, 'by'],
  ])('refuses %j naming %s', (query, param) => {
    expect(() => parseUsageReportQuery(query, NOW)).toThrow(expect.objectContaining({ code: 'invalid_request', param }));
  });

  it('says which forms a time may take', () => {
    expect(() => parseUsageReportQuery({ since: 'yesterday' }, NOW)).toThrow(
      'since must be ms since epoch, an ISO 8601 time or a duration before now (24h, 7d, 30d)',
    );
  });
});
