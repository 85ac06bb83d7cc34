/**
 * One admission and its release through the Redis coordinator (src/coord), on loopback: the time a
 * request would add to reach the upstream and to let go of its place. Starts a throwaway
 * redis-server (as the tests do), then times COORD_BENCH_CALLS sequential admit+release pairs
 * (default 2,000, after 200 unmeasured) against a plain PING round trip on the same kind of
 * connection, and prints the medians and tails. Run: `npx tsx bench/coord-round-trip.ts`.
 */
import { Redis } from 'ioredis';
import { RedisCoordinator } from '../src/coord/redis-coordinator.js';
import { findRedisServer, startRedis } from '../test/support/redis.js';

const CALLS = Number(process.env.COORD_BENCH_CALLS ?? 2_000);
const WARMUP = 200;
const HEALTH = { rateLimitCapMs: 3_600_000, backoffBaseMs: 5_000, backoffMaxMs: 300_000, probeHoldMs: 60_000 };
/** Eight accounts of cap 4 and a gated key: what one request of a typical pool sends. */
const CANDIDATES = Array.from({ length: 8 }, (_, i) => ({ accountId: `account-${i}`, cap: 4, tokenFingerprint: `fp-${i}` }));
const KEY_GATE = { keyId: 'key-1', maxConcurrency: 8, minStartIntervalMs: null };

/** Times `run` CALLS times (after WARMUP runs); returns the samples in ms, sorted. */
async function sample(run: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i += 1) await run();
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i += 1) {
    const started = process.hrtime.bigint();
    await run();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return samples.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN).toFixed(3);

async function main(): Promise<void> {
  const bin = findRedisServer();
  if (!bin) throw new Error('redis-server not found: apt-get install redis-server');
  const server = await startRedis(bin);
  const coord = new RedisCoordinator({ url: server.url, keyPrefix: 'bench:', leaseTtlMs: 30_000, commandTimeoutMs: 250, health: HEALTH });
  const ping = new Redis(server.url);
  try {
    if (!(await coord.waitUntilShared(5_000))) throw new Error('Redis did not answer');
    const pings = await sample(async () => {
      await ping.ping();
    });
    const admitOnly: number[] = [];
    const pairs = await sample(async () => {
      const started = process.hrtime.bigint();
      const result = await coord.admit({ keyGate: KEY_GATE, candidates: CANDIDATES });
      admitOnly.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (result.kind !== 'admitted') throw new Error(`not admitted: ${result.kind}`);
      await coord.release([result.accountLease, ...(result.keyLease ? [result.keyLease] : [])]);
    });
    const admits = admitOnly.slice(WARMUP).sort((a, b) => a - b);
    console.log(`coordination round trips on loopback, ${CALLS} sequential calls each (ms: p50 / p90 / p99)`);
    console.log(`  PING                        ${quantile(pings, 0.5)} / ${quantile(pings, 0.9)} / ${quantile(pings, 0.99)}`);
    console.log(`  admit (8 candidates + key)  ${quantile(admits, 0.5)} / ${quantile(admits, 0.9)} / ${quantile(admits, 0.99)}`);
    console.log(`  admit + release             ${quantile(pairs, 0.5)} / ${quantile(pairs, 0.9)} / ${quantile(pairs, 0.99)}`);
  } finally {
    ping.disconnect();
    await coord.close();
    await server.close();
  }
}

await main();
