import type { GatewayMetrics } from '../observe/gateway-metrics.js';
import type { SnapshotSource } from '../http/gateway-deps.js';

/**
 * Turns the account limiter's "account X now has N in flight" into gauge increments labelled by account
 * name. The name is fixed when an account goes busy, so a rename mid-flight cannot leave a series stuck.
 */
export function createAccountInflightReporter(metrics: GatewayMetrics, snapshots: SnapshotSource) {
  const seen = new Map<string, { name: string; count: number }>();
  return (accountId: string, inFlight: number): void => {
    const prev = seen.get(accountId);
    const name = prev?.name ?? snapshots.current()?.accounts.get(accountId)?.name ?? accountId;
    const before = prev?.count ?? 0;
    for (let i = before; i < inFlight; i += 1) metrics.accountInflight.inc(name);
    for (let i = inFlight; i < before; i += 1) metrics.accountInflight.dec(name);
    if (inFlight === 0) seen.delete(accountId);
    else seen.set(accountId, { name, count: inFlight });
  };
}
