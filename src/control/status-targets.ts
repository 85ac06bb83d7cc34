import type { DbQuerier } from '../store/db.js';
import { isInstanceLive, listInstances } from '../store/instance-repo.js';

/** One data plane whose GET /status a control plane reads. */
export interface StatusTarget {
  /** Its name in reports: the URL's origin and path (a password in it never reaches a response). */
  gateway: string;
  /** Base URL of its status endpoint. */
  url: string;
  /** Its instance-registry id; absent when GATEWAY_STATUS_URLS named it. */
  instanceId?: string;
}

/** The data planes to read, looked up at every read (the registry changes as processes come and go). */
export type StatusTargetSource = () => Promise<readonly StatusTarget[]>;

/** A URL as shown in reports: origin and path only. */
export function formatGatewayName(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, '')}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Fixed targets: the base URLs of GATEWAY_STATUS_URLS, in order. */
export function listConfiguredTargets(urls: readonly string[]): StatusTargetSource {
  const targets = urls.map((url) => ({ gateway: formatGatewayName(url), url }));
  return async () => targets;
}

/**
 * Targets from the instance registry: every live data plane (`start` or `serve`) that recorded a
 * status URL, but the process asking (`selfId`: a `start` reads its own data plane in memory).
 */
export function listRegistryTargets(opts: { db: DbQuerier; selfId: string | null; now?: () => number }): StatusTargetSource {
  const now = opts.now ?? Date.now;
  return async () => {
    const at = now();
    return (await listInstances(opts.db))
      .filter((row) => row.id !== opts.selfId && row.statusUrl !== null && isInstanceLive(row, at))
      .map((row) => ({ gateway: formatGatewayName(row.statusUrl!), url: row.statusUrl!, instanceId: row.id }));
  };
}

/**
 * GATEWAY_STATUS_URLS when it lists any (an explicit list replaces discovery, for data planes that
 * cannot advertise a reachable URL), else the registry's live data planes.
 */
export const resolveStatusTargets = (opts: { configuredUrls: readonly string[]; db: DbQuerier; selfId: string | null }): StatusTargetSource =>
  opts.configuredUrls.length > 0 ? listConfiguredTargets(opts.configuredUrls) : listRegistryTargets(opts);
