import { describe, expect, it } from 'vitest';
import { parseUsageReportQuery } from '../../../../src/admin/routes/usage-routes.js';

const NOW = Date.UTC(2026, 10, 30, 12);

describe('parseUsageReportQuery', () => {
  it('defaults to the last 24 hours by key, over every key and account', () => {
    expect(parseUsageReportQuery({}, NOW)).toEqual({ sinceMs: NOW - 86_400_000, untilMs: NOW, by: ['key'] });
  });

  it('takes ms since epoch or ISO 8601 times, any grouping of the table, and key and account filters', () => {
    expect(parseUsageReportQuery({ since: '2026-11-01T00:00:00Z', until: String(NOW), by: 'day', key: 'team-a', account: 'acct' }, NOW)).toEqual({
      sinceMs: Date.UTC(2026, 10, 1),
      untilMs: NOW,
      by: ['day'],
      key: 'team-a',
      account: 'acct',
    });
    for (const by of ['key', 'account', 'model', 'endpoint', 'day', 'hour']) expect(parseUsageReportQuery({ by }, NOW).by).toEqual([by]);
  });

  it('takes two groupings, time first or second, in the order given', () => {
    expect(parseUsageReportQuery({ by: 'day,key' }, NOW).by).toEqual(['day', 'key']);
    expect(parseUsageReportQuery({ by: 'account, hour' }, NOW).by).toEqual(['account', 'hour']);
  });

  it.each([
    [{ since: 'yesterday' }, 'since'],
    [{ until: '-5' }, 'until'],
    [{ since: String(NOW), until: String(NOW) }, 'since'],
    [{ by: 'week' }, 'by'],
    [{ by: 'Key' }, 'by'],
    [{ by: 'key,key' }, 'by'],
    [{ by: 'day,hour' }, 'by'],
    [{ by: 'key,account,model' }, 'by'],
  ])('refuses %j naming %s', (query, param) => {
    expect(() => parseUsageReportQuery(query, NOW)).toThrow(expect.objectContaining({ code: 'invalid_request', param }));
  });
});
