import type { CooldownCause } from '../dispatch/account-health.js';
import type { AccountView } from './control-api.js';
import type { ActivityReport, GatewayStatusReport } from './gateway-status.js';

/** One gateway's cooldown of an account, as operators see it. */
export interface CooldownView {
  gateway: string;
  cause: CooldownCause;
  /** ISO time the cooldown ends. */
  until: string;
  untilMs: number;
  failures: number;
  capped: boolean;
}

/** An account's health: stored facts (re-import, last error, token times) plus runtime state of every gateway. */
export interface AccountHealthView {
  id: string;
  name: string;
  status: AccountView['status'];
  imageEnabled: boolean;
  imageConcurrency: number;
  needsReimport: boolean;
  lastError: string | null;
  accessTokenExpiresAt: number | null;
  lastRefreshAt: number | null;
  /** Image requests in flight now, summed over the gateways that answered. */
  inFlight: number;
  cooldowns: CooldownView[];
}

/** Which gateways answered (an unreachable one leaves its accounts' runtime state out, and says so). */
export interface GatewayReachability {
  gateway: string;
  /** The data plane's instance-registry id; null when GATEWAY_STATUS_URLS named it. */
  instanceId: string | null;
  ok: boolean;
  error: string | null;
}

/** Merges stored accounts with the gateways' reports (pure). Accounts keep their stored order. */
export function buildAccountHealthViews(accounts: readonly AccountView[], reports: readonly GatewayStatusReport[]): AccountHealthView[] {
  return accounts.map((account) => {
    let inFlight = 0;
    const cooldowns: CooldownView[] = [];
    for (const report of reports) {
      if (!report.ok) continue;
      const entry = report.status.accounts.find((a) => a.accountId === account.id);
      if (!entry) continue;
      inFlight += entry.inFlight;
      const c = entry.cooldown;
      if (c)
        cooldowns.push({
          gateway: report.gateway,
          cause: c.cause,
          until: new Date(c.untilMs).toISOString(),
          untilMs: c.untilMs,
          failures: c.failures,
          capped: c.capped,
        });
    }
    return {
      id: account.id,
      name: account.name,
      status: account.status,
      imageEnabled: account.imageEnabled,
      imageConcurrency: account.imageConcurrency,
      needsReimport: account.needsReimport,
      lastError: account.lastError,
      accessTokenExpiresAt: account.accessTokenExpiresAt,
      lastRefreshAt: account.lastRefreshAt,
      inFlight,
      cooldowns,
    };
  });
}

/** The reachability list of a set of reports (status or activity: which gateways answered). */
export const buildGatewayReachability = (reports: readonly (GatewayStatusReport | ActivityReport)[]): GatewayReachability[] =>
  reports.map((r) => ({ gateway: r.gateway, instanceId: r.instanceId ?? null, ok: r.ok, error: r.ok ? null : r.error }));
