/**
 * Coordinators for tests of src/coord: each one is a separate RedisCoordinator (its own connection,
 * as a separate gateway process would have), all on one throwaway redis-server, under a key prefix
 * of their own per test so tests share nothing but the server.
 */
import { Redis } from 'ioredis';
import type { ModeChange } from '../../src/coord/connection-mode.js';
import type { HealthPolicy } from '../../src/coord/coord-types.js';
import { RedisCoordinator, type RedisCoordinatorOptions } from '../../src/coord/redis-coordinator.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { findRedisServer, startRedis, type RedisServer } from './redis.js';
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

/** A test file's Redis and coordinators (useCoordFixture); `server` and `fx` exist once its tests run. */
export interface CoordTestEnv {
  /** The redis-server binary, or null: the file skips (`describe.skipIf(!env.bin)`). */
  bin: string | null;
  readonly server: RedisServer;
  readonly fx: CoordFixture;
}

/**
 * Registers a test file's hooks: a throwaway redis-server before its tests, the coordinators a
 * test made closed after it (`beforeEachClose` runs first, e.g. to thaw a paused server), and the
 * server closed after the file.
 */
export function useCoordFixture(opts: { beforeEachClose?: (env: CoordTestEnv) => void } = {}): CoordTestEnv {
  let server: RedisServer | null = null;
  let fx: CoordFixture | null = null;
  const env: CoordTestEnv = {
    bin: findRedisServer(),
    get server() {
      if (!server) throw new Error('no redis-server: the file should have skipped');
      return server;
    },
    get fx() {
      if (!fx) throw new Error('no redis-server: the file should have skipped');
      return fx;
    },
  };
  beforeAll(async () => {
    if (!env.bin) return;
    server = await startRedis(env.bin);
    fx = createCoordFixture(server);
  });
  afterEach(async () => {
    if (!fx) return;
    opts.beforeEachClose?.(env);
    await fx.closeAll();
  });
  afterAll(async () => {
    await fx?.close();
    await server?.close();
  });
  return env;
}
