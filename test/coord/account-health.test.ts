import { describe, expect, it } from 'vitest';
import type { AdmitCandidate } from '../../src/coord/coord-types.js';
import type { RedisCoordinator } from '../../src/coord/redis-coordinator.js';
import { TEST_HEALTH, useCoordFixture } from '../support/coordinators.js';
import { waitFor } from '../support/wait-for.js';

const env = useCoordFixture();
const { bin } = env;

const candidate = (accountId: string, cap = 1, tokenFingerprint: string | null = null): AdmitCandidate => ({ accountId, cap, tokenFingerprint });
const rateLimited = (retryAfterSeconds: number) => ({ status: 429, errorClass: 'rate_limited' as const, retryAfterSeconds });
const serverError = { status: 500, errorClass: 'upstream_server' as const, retryAfterSeconds: null };
const success = { status: 200, errorClass: null, retryAfterSeconds: null };

async function instances(count: number, health = TEST_HEALTH): Promise<RedisCoordinator[]> {
  const keyPrefix = env.fx.nextPrefix();
  return Promise.all(Array.from({ length: count }, async () => (await env.fx.create({ keyPrefix, health })).coord));
}

describe.skipIf(!bin)('account health shared through Redis', () => {
  it('a 429 reported by one instance keeps the account out of every instance until its reset', async () => {
    const [one, two, three] = (await instances(3)) as [RedisCoordinator, RedisCoordinator, RedisCoordinator];
    await one.report('a', rateLimited(0.5), null);
    const seen = await two.admit({ candidates: [candidate('a', 5)] });
    if (seen.kind !== 'none') throw new Error('the account should be cooling');
    expect(seen.cooling).toEqual([{ accountId: 'a', cause: 'rate_limited', untilMs: expect.any(Number) }]);
    const untilMs = seen.cooling[0]?.untilMs ?? 0;
    expect(untilMs - seen.serverNowMs).toBeGreaterThan(0);
    expect(untilMs - seen.serverNowMs).toBeLessThanOrEqual(500);
    expect(await three.listCooldowns()).toEqual([{ accountId: 'a', cause: 'rate_limited', untilMs, failures: 0, capped: false }]);
    const admitted = await waitFor('the account back after its reset', async () => {
      const r = await three.admit({ candidates: [candidate('a', 5)] });
      return r.kind === 'admitted' ? r : null;
    });
    expect(admitted.serverNowMs).toBeGreaterThanOrEqual(untilMs);
    expect(await one.listCooldowns()).toEqual([]);
  });

  it('after a capped rate-limit cooldown exactly one admission across all instances re-probes; the others see it cooling', async () => {
    const health = { ...TEST_HEALTH, rateLimitCapMs: 300, probeHoldMs: 60_000 };
    const coords = await instances(3, health);
    const [one] = coords as [RedisCoordinator];
    await one.report('a', rateLimited(3600), null);
    const [cooldown] = await one.listCooldowns();
    expect(cooldown).toMatchObject({ accountId: 'a', cause: 'rate_limited', capped: true });
    await waitFor('the capped cooldown to end', async () => (await env.fx.serverNowMs()) >= (cooldown?.untilMs ?? 0));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (coords[i % 3] as RedisCoordinator).admit({ candidates: [candidate('a', 10)] })));
    const probes = results.filter((r) => r.kind === 'admitted');
    expect(probes).toHaveLength(1);
    const probeAt = probes[0]?.serverNowMs ?? 0;
    for (const r of results.filter((x) => x.kind === 'none')) {
      expect(r.kind === 'none' && r.cooling).toEqual([{ accountId: 'a', cause: 'rate_limited', untilMs: probeAt + 60_000 }]);
    }
    // The probe's answer decides for everyone.
    await one.report('a', success, null);
    expect((await (coords[2] as RedisCoordinator).admit({ candidates: [candidate('a', 10)] })).kind).toBe('admitted');
  });

  it('5xx backoff doubles up to the max, keeps its count across an ended pause, and a success forgets it', async () => {
    const [one, two] = (await instances(2)) as [RedisCoordinator, RedisCoordinator];
    /**
     * Reports a failure through `coord` and checks the pause it started is `ms` on Redis's clock (its
     * end lies `ms` after some instant between the clock read before and the one after); returns the count.
     */
    const fail = async (coord: RedisCoordinator, ms?: number) => {
      const before = await env.fx.serverNowMs();
      await coord.report('a', serverError, null);
      const after = await env.fx.serverNowMs();
      const [c] = await two.listCooldowns();
      if (ms !== undefined) {
        expect(c?.untilMs).toBeGreaterThanOrEqual(before + ms);
        expect(c?.untilMs).toBeLessThanOrEqual(after + ms);
      }
      return c?.failures;
    };
    expect(await fail(one, 100)).toBe(1);
    expect(await fail(two, 200)).toBe(2);
    // base·2^2 = 400 is past the 250 ms max.
    expect(await fail(one, 250)).toBe(3);
    await waitFor('the pause to end', async () => (await two.listCooldowns()).length === 0);
    expect(await fail(one)).toBe(4);
    await two.report('a', success, null);
    expect(await one.listCooldowns()).toEqual([]);
    expect(await fail(one, 100)).toBe(1);
  });

  it('an admission says whether the account has a health record, so only then is a success worth reporting', async () => {
    const [one, two] = (await instances(2)) as [RedisCoordinator, RedisCoordinator];
    const admitted = async (coord: RedisCoordinator) => {
      const r = await coord.admit({ candidates: [candidate('a', 10)] });
      if (r.kind !== 'admitted') throw new Error(`expected an admission, got ${JSON.stringify(r)}`);
      await coord.release([r.accountLease]);
      return r;
    };
    expect((await admitted(one)).healthRecorded).toBe(false);
    await two.report('a', serverError, null);
    await waitFor('the pause to end', async () => (await two.listCooldowns()).length === 0);
    // The pause is over but the failure count stays: a success must clear it.
    expect((await admitted(one)).healthRecorded).toBe(true);
    await one.report('a', success, null);
    expect((await admitted(two)).healthRecorded).toBe(false);
  });

  it('a 401 keeps the account out until its token changes', async () => {
    const [one, two] = (await instances(2)) as [RedisCoordinator, RedisCoordinator];
    await one.report('a', { status: 401, errorClass: 'auth', retryAfterSeconds: null }, 'fp-old');
    expect(await two.admit({ candidates: [candidate('a', 1, 'fp-old')] })).toMatchObject({ kind: 'none', cooling: [{ accountId: 'a', cause: 'auth' }] });
    expect((await two.admit({ candidates: [candidate('a', 1, 'fp-new')] })).kind).toBe('admitted');
    // The ended auth cooldown is forgotten, as the in-process health forgets it when an attempt claims it.
    expect(await one.listCooldowns()).toEqual([]);
  });

  it('client aborts and busy skips say nothing about the account', async () => {
    const [one] = (await instances(1)) as [RedisCoordinator];
    for (const errorClass of ['client_aborted', 'concurrency_blocked', 'proxy_client', 'response_too_large'] as const) {
      await one.report('a', { status: null, errorClass, retryAfterSeconds: null }, null);
    }
    expect(await one.listCooldowns()).toEqual([]);
  });

  it('clearCooldown ends a cooldown for every instance, announces the account, and says whether there was one', async () => {
    const [one, two] = (await instances(2)) as [RedisCoordinator, RedisCoordinator];
    const heard: string[][] = [];
    const sub = two.onFreed((ids) => heard.push(ids));
    await sub.ready;
    await one.report('a', rateLimited(600), null);
    await one.report('b', serverError, null);
    expect((await two.listCooldowns()).map((c) => c.accountId)).toEqual(['b', 'a']);
    expect(await two.clearCooldown('a')).toBe(true);
    expect(await two.clearCooldown('a')).toBe(false);
    expect((await one.admit({ candidates: [candidate('a')] })).kind).toBe('admitted');
    await waitFor('the freed announcement', () => heard.some((ids) => ids.includes('a')));
    sub.unsubscribe();
  });

  it('every key the coordinator writes expires (nothing lives forever)', async () => {
    const prefix = env.fx.nextPrefix();
    const { coord } = await env.fx.create({ keyPrefix: prefix, health: { ...TEST_HEALTH, rateLimitCapMs: 300 } });
    await coord.admit({ keyGate: { keyId: 'k', maxConcurrency: 3, minStartIntervalMs: 50 }, candidates: [candidate('a', 2)] });
    await coord.report('a', rateLimited(3600), null);
    await coord.report('b', serverError, null);
    await coord.report('c', { status: 401, errorClass: 'auth', retryAfterSeconds: null }, 'fp');
    const keys = await env.fx.raw.keys(`${prefix}*`);
    // Leases and last starts of the account and the key, three health hashes, the cooldown index.
    expect(keys.length).toBe(8);
    const ttls = await Promise.all(keys.map(async (k) => [k, await env.fx.raw.pttl(k)] as const));
    expect(ttls.filter(([, ttl]) => ttl <= 0)).toEqual([]);
  });
});
