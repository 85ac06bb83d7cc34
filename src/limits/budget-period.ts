/**
 * The periods a key's budget counts over, and where they start and end in an operator's time zone.
 * Boundaries fall at local midnight (weeks from Monday); across a daylight-saving change a day is
 * 23 or 25 hours long, as the operator's calendar says.
 */
export const QUOTA_PERIODS = ['none', 'day', 'week', 'month'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

/** The time zone budgets count in when the operator sets none. */
export const DEFAULT_BUDGET_TIME_ZONE = 'UTC';

/** The span [startMs, endMs) of a period; a lifetime (`none`) starts at 0 and never ends (endMs null). */
export interface PeriodSpan {
  startMs: number;
  endMs: number | null;
}

/** True when `name` is a time zone this runtime knows (IANA names such as `Europe/Berlin`, or `UTC`). */
export function isKnownTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

// Formatters are costly to build and a budget check runs per request: one per zone, kept.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock date and time at `ms` in `timeZone`, as if it were UTC (ms), to compare with UTC. */
function wallClockMs(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(ms)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

/** The instant (ms) at which the wall clock in `timeZone` shows midnight of the given civil date. */
function zonedMidnightMs(year: number, monthIndex: number, day: number, timeZone: string): number {
  const wanted = Date.UTC(year, monthIndex, day);
  // The offset at the guess, applied twice: the second pass corrects a guess on the far side of a DST change.
  let guess = wanted;
  for (let i = 0; i < 2; i++) guess = wanted - (wallClockMs(guess, timeZone) - guess);
  return guess;
}

/** The civil date (in `timeZone`) at `ms`: year, month index (0-11), day of month, weekday (0 = Monday). */
function civilDate(ms: number, timeZone: string): { year: number; month: number; day: number; weekday: number } {
  const wall = new Date(wallClockMs(ms, timeZone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth(), day: wall.getUTCDate(), weekday: (wall.getUTCDay() + 6) % 7 };
}

/** The period of kind `period` that holds `nowMs`, with boundaries at local midnight in `timeZone`. */
export function findPeriodSpan(period: QuotaPeriod, nowMs: number, timeZone: string): PeriodSpan {
  if (period === 'none') return { startMs: 0, endMs: null };
  const { year, month, day, weekday } = civilDate(nowMs, timeZone);
  switch (period) {
    case 'day':
      return { startMs: zonedMidnightMs(year, month, day, timeZone), endMs: zonedMidnightMs(year, month, day + 1, timeZone) };
    case 'week':
      return { startMs: zonedMidnightMs(year, month, day - weekday, timeZone), endMs: zonedMidnightMs(year, month, day - weekday + 7, timeZone) };
    case 'month':
      return { startMs: zonedMidnightMs(year, month, 1, timeZone), endMs: zonedMidnightMs(year, month + 1, 1, timeZone) };
  }
}
