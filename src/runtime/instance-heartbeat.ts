import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { DbQuerier } from '../store/db.js';
import { beatInstance, INSTANCE_RETENTION_MS, markInstanceStopped, pruneInstances, type InstanceAddresses, type InstanceRole } from '../store/instance-repo.js';
import { PACKAGE_VERSION } from './package-version.js';

/** This process's row in the instance registry, kept fresh until `stop`. */
export interface InstanceHeartbeat {
  /** The process's instance id (`inst_` + 16 hex), fresh at every start; async jobs are filed under it. */
  readonly id: string;
  /** Records where the process listens (once it does) and beats at once with it. */
  publish(addresses: InstanceAddresses): Promise<void>;
  /** Stops beating and marks the row stopped (a failure is reported to `onError`, never thrown). */
  stop(): Promise<void>;
}

export interface InstanceHeartbeatOptions {
  db: DbQuerier;
  role: InstanceRole;
  /** Beat period (INSTANCE_HEARTBEAT_MS; a data plane passes the shorter of it and JOB_HEARTBEAT_MS). */
  heartbeatMs: number;
  now?: () => number;
  /** A later beat that failed (the first one throws instead); the next beat retries. */
  onError: (err: unknown) => void;
}

/** A fresh instance id: `inst_` and 16 random hex characters. */
export const createInstanceId = (): string => `inst_${randomBytes(8).toString('hex')}`;

/**
 * Starts the registry heartbeat of this process: the first beat (no addresses yet) before this
 * returns, so a database that refuses it stops the start; then one every `heartbeatMs`, each also
 * deleting rows silent for INSTANCE_RETENTION_MS. Every role beats, so operators see `control`
 * processes too, and a control plane finds the data planes to read.
 */
export async function startInstanceHeartbeat(opts: InstanceHeartbeatOptions): Promise<InstanceHeartbeat> {
  const now = opts.now ?? Date.now;
  const identity = { id: createInstanceId(), role: opts.role, version: PACKAGE_VERSION, hostname: hostname(), pid: process.pid, heartbeatMs: opts.heartbeatMs };
  let addresses: InstanceAddresses = { listenUrl: null, adminUrl: null, statusUrl: null };
  const beat = async () => {
    const at = now();
    await beatInstance(opts.db, { ...identity, ...addresses, now: at });
    await pruneInstances(opts.db, at - INSTANCE_RETENTION_MS);
  };
  await beat();
  // Beats never overlap: a slow one delays the next instead of racing it.
  let running: Promise<void> = Promise.resolve();
  const schedule = () => {
    running = running.then(beat).catch(opts.onError);
    return running;
  };
  const timer = setInterval(schedule, opts.heartbeatMs);
  timer.unref();
  return {
    id: identity.id,
    publish(next) {
      addresses = next;
      return schedule();
    },
    async stop() {
      clearInterval(timer);
      await running;
      await markInstanceStopped(opts.db, identity.id, now()).catch(opts.onError);
    },
  };
}
