import type { ImageLogEvent } from '../observe/image-log-event.js';
import { parseStatusWire, type DataPlaneStatus, type DataPlaneStatusSource, type DataPlaneStatusWire } from './data-plane-status.js';
import type { StatusTarget, StatusTargetSource } from './status-targets.js';

/** Which data plane a report is about: its name, and its registry id when known. */
type ReportSource = { gateway: string; instanceId?: string };

/** One gateway's answer: its status, or why it could not be read (never a token or a URL password). */
export type GatewayStatusReport = ReportSource & ({ ok: true; status: DataPlaneStatus } | { ok: false; error: string });

/** One gateway's recent request-log lines (newest first), or why it could not be read. */
export type ActivityReport = ReportSource & ({ ok: true; lines: ImageLogEvent[] } | { ok: false; error: string });

/** What the admin API reads account runtime state from: this process's data plane and/or remote ones. */
export interface GatewayStatusReader {
  read(): Promise<GatewayStatusReport[]>;
  /** Clears the account's cooldown on every gateway; returns how many had one. */
  clearCooldown(accountId: string): Promise<number>;
  /** Recent request-log lines of every gateway, one report each; none = no data plane to read. */
  readActivity(): Promise<ActivityReport[]>;
}

/** Name of the in-process data plane in reports (`start`). */
export const LOCAL_GATEWAY = 'local';

/** Reads the data plane running in this process (`start`), filed under its registry id when given. */
export function createLocalStatusReader(source: DataPlaneStatusSource, instanceId?: string): GatewayStatusReader {
  const named = instanceId === undefined ? { gateway: LOCAL_GATEWAY } : { gateway: LOCAL_GATEWAY, instanceId };
  return {
    read: async () => [{ ...named, ok: true, status: await source.read() }],
    clearCooldown: async (accountId) => ((await source.clearCooldown(accountId)) ? 1 : 0),
    readActivity: async () => [{ ...named, ok: true, lines: source.activity?.() ?? [] }],
  };
}

/** Where the data planes are and how to authenticate to their status endpoints. */
export interface RemoteStatusOptions {
  /** The data planes to read, looked up at every call (status-targets.ts: the registry or GATEWAY_STATUS_URLS). */
  targets: StatusTargetSource;
  /** The admin token, which each data plane must share (its ADMIN_TOKEN). */
  adminToken: string;
  /** Per-call limit. Default 3 s. */
  timeoutMs?: number;
}

const endpoint = (base: string, path: string): string => `${base.replace(/\/+$/, '')}${path}`;
const sourceOf = (t: StatusTarget): ReportSource => (t.instanceId === undefined ? { gateway: t.gateway } : { gateway: t.gateway, instanceId: t.instanceId });
const describeFailure = (err: unknown): string => `status endpoint unreachable (${(err as { name?: string }).name ?? 'error'})`;

/** Reads `GET /status` (and `/status/activity`) of each data plane; one unreachable gateway does not hide the others. */
export function createRemoteStatusReader(opts: RemoteStatusOptions): GatewayStatusReader {
  const timeoutMs = opts.timeoutMs ?? 3_000;
  const call = (base: string, path: string, method: 'GET' | 'POST') =>
    fetch(endpoint(base, path), { method, headers: { authorization: `Bearer ${opts.adminToken}` }, signal: AbortSignal.timeout(timeoutMs) });
  const readOne = async (target: StatusTarget): Promise<GatewayStatusReport> => {
    try {
      const res = await call(target.url, '/status', 'GET');
      if (!res.ok) return { ...sourceOf(target), ok: false, error: `status endpoint answered ${res.status}` };
      return { ...sourceOf(target), ok: true, status: parseStatusWire((await res.json()) as DataPlaneStatusWire) };
    } catch (err) {
      return { ...sourceOf(target), ok: false, error: describeFailure(err) };
    }
  };
  const readActivityOne = async (target: StatusTarget): Promise<ActivityReport> => {
    try {
      const res = await call(target.url, '/status/activity', 'GET');
      if (!res.ok) return { ...sourceOf(target), ok: false, error: `status endpoint answered ${res.status}` };
      const data = ((await res.json()) as { data?: unknown }).data;
      return { ...sourceOf(target), ok: true, lines: Array.isArray(data) ? (data as ImageLogEvent[]) : [] };
    } catch (err) {
      return { ...sourceOf(target), ok: false, error: describeFailure(err) };
    }
  };
  const clearOne = async (target: StatusTarget, accountId: string): Promise<boolean> => {
    try {
      const res = await call(target.url, `/status/accounts/${encodeURIComponent(accountId)}/clear-cooldown`, 'POST');
      return res.ok && ((await res.json()) as { cleared?: unknown }).cleared === true;
    } catch {
      return false;
    }
  };
  return {
    read: async () => Promise.all((await opts.targets()).map(readOne)),
    clearCooldown: async (accountId) => (await Promise.all((await opts.targets()).map((t) => clearOne(t, accountId)))).filter(Boolean).length,
    readActivity: async () => Promise.all((await opts.targets()).map(readActivityOne)),
  };
}

/** Several readers as one (reports in order; cleared counts added). */
export function combineStatusReaders(readers: readonly GatewayStatusReader[]): GatewayStatusReader {
  return {
    read: async () => (await Promise.all(readers.map((r) => r.read()))).flat(),
    clearCooldown: async (accountId) => (await Promise.all(readers.map((r) => r.clearCooldown(accountId)))).reduce((a, b) => a + b, 0),
    readActivity: async () => (await Promise.all(readers.map((r) => r.readActivity()))).flat(),
  };
}
