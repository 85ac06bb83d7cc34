import type { ImageLogEvent } from '../observe/image-log-event.js';
import { parseStatusWire, type DataPlaneStatus, type DataPlaneStatusSource, type DataPlaneStatusWire } from './data-plane-status.js';

/** One gateway's answer: its status, or why it could not be read (never a token or a URL password). */
export type GatewayStatusReport = { gateway: string; ok: true; status: DataPlaneStatus } | { gateway: string; ok: false; error: string };

/** What the admin API reads account runtime state from: this process's data plane and/or remote ones. */
export interface GatewayStatusReader {
  read(): Promise<GatewayStatusReport[]>;
  /** Clears the account's cooldown on every gateway; returns how many had one. */
  clearCooldown(accountId: string): Promise<number>;
  /** Recent request-log lines of every gateway that answered, each list newest first. */
  readActivity(): Promise<ImageLogEvent[][]>;
  /** How many data planes this reads; 0 means none is configured (Activity and Overview stay empty). */
  readonly sourceCount: number;
}

/** Name of the in-process data plane in reports (`start`). */
export const LOCAL_GATEWAY = 'local';

/** Reads the data plane running in this process (`start`). */
export function createLocalStatusReader(source: DataPlaneStatusSource): GatewayStatusReader {
  return {
    read: async () => [{ gateway: LOCAL_GATEWAY, ok: true, status: source.read() }],
    clearCooldown: async (accountId) => (source.clearCooldown(accountId) ? 1 : 0),
    readActivity: async () => [source.activity?.() ?? []],
    sourceCount: 1,
  };
}

/** Where the `serve` processes are and how to authenticate to their status endpoints. */
export interface RemoteStatusOptions {
  /** Base URLs of `serve` processes (GATEWAY_STATUS_URLS), e.g. `http://10.0.0.5:19082`. */
  urls: readonly string[];
  /** The admin token, which each `serve` must share (its ADMIN_TOKEN). */
  adminToken: string;
  /** Per-call limit. Default 3 s. */
  timeoutMs?: number;
}

/** A URL as shown in reports: origin and path only (a password in it never reaches a response). */
const displayUrl = (raw: string): string => {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, '')}`;
  } catch {
    return '(invalid URL)';
  }
};

const endpoint = (base: string, path: string): string => `${base.replace(/\/+$/, '')}${path}`;

/** Reads `GET /status` of each configured `serve`; one unreachable gateway does not hide the others. */
export function createRemoteStatusReader(opts: RemoteStatusOptions): GatewayStatusReader {
  const timeoutMs = opts.timeoutMs ?? 3_000;
  const call = (base: string, path: string, method: 'GET' | 'POST') =>
    fetch(endpoint(base, path), { method, headers: { authorization: `Bearer ${opts.adminToken}` }, signal: AbortSignal.timeout(timeoutMs) });
  const readOne = async (base: string): Promise<GatewayStatusReport> => {
    const gateway = displayUrl(base);
    try {
      const res = await call(base, '/status', 'GET');
      if (!res.ok) return { gateway, ok: false, error: `status endpoint answered ${res.status}` };
      return { gateway, ok: true, status: parseStatusWire((await res.json()) as DataPlaneStatusWire) };
    } catch (err) {
      return { gateway, ok: false, error: `status endpoint unreachable (${(err as { name?: string }).name ?? 'error'})` };
    }
  };
  return {
    sourceCount: opts.urls.length,
    read: () => Promise.all(opts.urls.map(readOne)),
    async clearCooldown(accountId) {
      const results = await Promise.all(
        opts.urls.map(async (base) => {
          try {
            const res = await call(base, `/status/accounts/${encodeURIComponent(accountId)}/clear-cooldown`, 'POST');
            return res.ok && ((await res.json()) as { cleared?: unknown }).cleared === true;
          } catch {
            return false;
          }
        }),
      );
      return results.filter(Boolean).length;
    },
    readActivity: () =>
      Promise.all(
        opts.urls.map(async (base) => {
          try {
            const res = await call(base, '/status/activity', 'GET');
            if (!res.ok) return [];
            const data = ((await res.json()) as { data?: unknown }).data;
            return Array.isArray(data) ? (data as ImageLogEvent[]) : [];
          } catch {
            return [];
          }
        }),
      ),
  };
}

/** Several readers as one (reports in order; cleared counts added). */
export function combineStatusReaders(readers: readonly GatewayStatusReader[]): GatewayStatusReader {
  return {
    read: async () => (await Promise.all(readers.map((r) => r.read()))).flat(),
    clearCooldown: async (accountId) => (await Promise.all(readers.map((r) => r.clearCooldown(accountId)))).reduce((a, b) => a + b, 0),
    readActivity: async () => (await Promise.all(readers.map((r) => r.readActivity()))).flat(),
    sourceCount: readers.reduce((sum, r) => sum + r.sourceCount, 0),
  };
}
