import { describe, expect, it } from 'vitest';
import { DURATION_UNITS_MS, readDurationMs } from '../../../src/config/durations.js';

describe('readDurationMs', () => {
  it.each([
    ['90m', 90 * 60_000],
    ['12h', 12 * 3_600_000],
    ['7d', 7 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['0d', 0],
    ['999999m', 999_999 * 60_000],
  ])('%s → %d ms', (text, ms) => expect(readDurationMs(text)).toBe(ms));

  it.each(['', '7', 'd', '7D', '7 d', ' 7d', '-7d', '+7d', '1.5h', '7y', '7s', '1000000m', '7dd'])('%j is not a duration', (text) => {
    expect(readDurationMs(text)).toBeUndefined();
  });

  it('m is minutes, never months', () => expect(DURATION_UNITS_MS.m).toBe(60_000));
});
