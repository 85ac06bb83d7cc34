import { describe, expect, it } from 'vitest';
import { findPeriodSpan, isKnownTimeZone } from '../../../src/limits/budget-period.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const span = (...args: Parameters<typeof findPeriodSpan>) => {
  const s = findPeriodSpan(...args);
  return [iso(s.startMs), iso(s.endMs)];
};

describe('findPeriodSpan', () => {
  it('a lifetime has no boundaries', () => {
    expect(findPeriodSpan('none', Date.UTC(2026, 10, 30), 'UTC')).toEqual({ startMs: 0, endMs: null });
  });

  it('UTC days, Monday weeks and calendar months, the boundary instant belonging to the new period', () => {
    const now = Date.UTC(2026, 10, 30, 22, 15); // Monday 30 November 2026
    expect(span('day', now, 'UTC')).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
    expect(span('week', now, 'UTC')).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);
    expect(span('week', Date.UTC(2026, 11, 6, 23, 59), 'UTC')).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);
    expect(span('month', now, 'UTC')).toEqual(['2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
    expect(span('month', Date.UTC(2026, 11, 31, 23), 'UTC')).toEqual(['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    expect(span('day', Date.UTC(2026, 11, 1), 'UTC')).toEqual(['2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z']);
  });

  it("follows the operator's time zone: midnight in New York is 05:00 UTC in winter", () => {
    const lateEvening = Date.UTC(2026, 11, 1, 3); // 30 November 22:00 in New York
    expect(span('day', lateEvening, 'America/New_York')).toEqual(['2026-11-30T05:00:00.000Z', '2026-12-01T05:00:00.000Z']);
    expect(span('month', lateEvening, 'America/New_York')).toEqual(['2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z']);
    expect(span('day', Date.UTC(2026, 10, 30, 20), 'Asia/Kolkata')).toEqual(['2026-11-30T18:30:00.000Z', '2026-12-01T18:30:00.000Z']);
  });

  it('a day across a daylight-saving change is 23 or 25 hours long', () => {
    const spring = findPeriodSpan('day', Date.UTC(2026, 2, 29, 12), 'Europe/Berlin'); // clocks go forward on 29 March 2026
    expect((spring.endMs! - spring.startMs) / 3_600_000).toBe(23);
    const autumn = findPeriodSpan('day', Date.UTC(2026, 9, 25, 12), 'Europe/Berlin');
    expect((autumn.endMs! - autumn.startMs) / 3_600_000).toBe(25);
    expect(iso(autumn.startMs)).toBe('2026-10-24T22:00:00.000Z');
  });

  it('knows IANA zones and refuses made-up ones', () => {
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Europe/Berlin')).toBe(true);
    expect(isKnownTimeZone('Mars/Olympus')).toBe(false);
    expect(isKnownTimeZone('')).toBe(false);
  });
});
