import { describe, expect, it } from 'vitest';
import { parseRollupQuery } from '../../../../src/admin/routes/usage-routes.js';

const NOW = Date.UTC(2026, 10, 30, 12);

describe('parseRollupQuery', () => {
  it('defaults to the last 24 hours by key', () => {
    expect(parseRollupQuery({}, NOW)).toEqual({ sinceMs: NOW - 86_400_000, untilMs: NOW, by: 'key' });
  });

  it('takes ms since epoch or ISO 8601 times and any grouping of the table', () => {
    expect(parseRollupQuery({ since: '2026-11-01T00:00:00Z', until: String(NOW), by: 'day' }, NOW)).toEqual({
      sinceMs: Date.UTC(2026, 10, 1),
      untilMs: NOW,
      by: 'day',
    });
    for (const by of ['key', 'account', 'model', 'day', 'hour']) expect(parseRollupQuery({ by }, NOW).by).toBe(by);
  });

  it.each([
    [{ since: 'yesterday' }, 'since'],
    [{ until: '-5' }, 'until'],
    [{ since: String(NOW), until: String(NOW) }, 'since'],
    [{ by: 'week' }, 'by'],
    [{ by: 'Key' }, 'by'],
  ])('refuses %j naming %s', (query, param) => {
    expect(() => parseRollupQuery(query, NOW)).toThrow(expect.objectContaining({ code: 'invalid_request', param }));
  });
});
