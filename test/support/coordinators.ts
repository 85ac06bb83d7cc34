/**
 * Coordinators for tests of src/coord: each one is a separate RedisCoordinator (its own connection,
 * as a separate gateway process would have), all on one throwaway redis-server, under a key prefix
 * of their own per test so tests share nothing but the server.
 */
import { Redis } from 'ioredis';
import type { ModeChange } from '../../src/coord/connection-mode.js';
import type { HealthPolicy } from '../../src/coord/coord-types.js';
import { RedisCoordinator, type RedisCoordinatorOptions } from '../../src/coord/redis-coordinator.js';
import type { RedisServer } from './redis.js';
import { waitFor } from './wait-for.js';

/** A test policy with short pauses (ms). */
export const TEST_HEALTH: HealthPolicy = { rateLimitCapMs: 60_000, backoffBaseMs: 100, backoffMaxMs: 250, probeHoldMs: 60_000 };

export interface CoordFixture {
  /** A plain client for looking at what the coordinators left in Redis. */
  raw: Redis;
  /** A new key prefix (one per test). */
  nextPrefix(): string;
  /** A connected coordinator; the mode changes it reports are collected in `changes`. */
  create(options: Partial<RedisCoordinatorOptions> & { keyPrefix: string }): Promise<TestCoordinator>;
  /** Redis's clock (ms), the coordinators' clock. */
  serverNowMs(): Promise<number>;
  /** Closes every coordinator made so far. */
  closeAll(): Promise<void>;
  close(): Promise<void>;
}

export interface TestCoordinator {
  coord: RedisCoordinator;
  changes: ModeChange[];
}

/** Coordinators against `server`; the raw client reconnects by itself across restarts. */
export function createCoordFixture(server: RedisServer): CoordFixture {
  const raw = new Redis(server.url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  raw.on('error', () => {});
  const made: RedisCoordinator[] = [];
  let prefixes = 0;
  return {
    raw,
    nextPrefix: () => `t${++prefixes}-${process.pid}:`,
    async create(options) {
      const coord = new RedisCoordinator({
        url: server.url,
        leaseTtlMs: 30_000,
        commandTimeoutMs: 250,
        health: TEST_HEALTH,
        reconnectMaxDelayMs: 100,
        ...options,
      });
      made.push(coord);
      const changes: ModeChange[] = [];
      coord.onModeChange((change) => changes.push(change));
      await waitFor('the coordinator to connect', () => coord.mode === 'shared');
      return { coord, changes };
    },
    async serverNowMs() {
      const [seconds, micros] = await raw.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    },
    async closeAll() {
      await Promise.all(made.splice(0).map((c) => c.close()));
    },
    async close() {
      await Promise.all(made.splice(0).map((c) => c.close()));
      raw.disconnect();
    },
  };
}
