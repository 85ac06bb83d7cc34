/**
 * Micro-USD as text for people (the CLI and the console): `$0.042`, `$12.50`, `$0.000272`: every
 * digit the integer holds, trailing zeros trimmed down to cents. Integer arithmetic, so a large
 * sum is never shown rounded. Imports nothing: the console bundles it.
 */
export function formatUsdMicros(micros: number): string {
  const whole = Math.max(0, Math.trunc(micros));
  const fraction = String(whole % 1_000_000)
    .padStart(6, '0')
    .replace(/0{1,4}$/, '');
  return `$${Math.floor(whole / 1_000_000)}.${fraction.padEnd(2, '0')}`;
}
