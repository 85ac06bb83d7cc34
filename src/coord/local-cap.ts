/**
 * A cap for local mode (Redis unreachable): each of `liveInstances` processes enforces its share,
 * floor(cap / n), and at least 1 so no account or key is shut off. Rounding down keeps the sum of
 * the shares at or under the cap whenever cap >= n; with more instances than the cap, each still
 * admits one, so the total may reach n (the price of never refusing all service). An unknown or
 * zero instance count counts as one (the whole cap).
 */
export function splitCapAcrossInstances(cap: number, liveInstances: number): number {
  const n = Number.isFinite(liveInstances) && liveInstances >= 1 ? Math.floor(liveInstances) : 1;
  return Math.max(1, Math.floor(cap / n));
}
