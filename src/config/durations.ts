/**
 * Relative times as people type them (`90m`, `12h`, `7d`, `2w`): one table of units and one reader,
 * shared by the CLI's flags (`--grace`, `--expires`) and the usage report's range (`since=7d`).
 * Imports nothing, like the rest of config.
 */

/** Milliseconds per unit: `m` minutes (never months: write `30d`), `h` hours, `d` days, `w` weeks. */
export const DURATION_UNITS_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** A whole number of at most six digits, then one unit letter, nothing else (no spaces, no sign, no fraction). */
const DURATION = /^(\d{1,6})([mhdw])$/;

/**
 * The milliseconds a duration names (`12h` → 43,200,000), or undefined when the text is not one, so
 * a caller can try its other forms (a date, `never`, `0`) before it refuses the value.
 */
export function readDurationMs(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS];
}
