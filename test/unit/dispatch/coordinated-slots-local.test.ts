import { afterAll, describe, expect, it } from 'vitest';
import { RedisCoordinator } from '../../../src/coord/redis-coordinator.js';
import { AccountHealth } from '../../../src/dispatch/account-health.js';
import { CoordinatedSlots } from '../../../src/dispatch/coordinated-slots.js';
import type { Candidate } from '../../../src/dispatch/plan-candidates.js';
import { AccountLimiter } from '../../../src/limits/account-limiter.js';
import { KeyLimiter } from '../../../src/limits/key-limiter.js';
import type { AccountCredentials } from '../../../src/upstream/codex-auth.js';
import { makeAccount } from '../../support/snapshot-fixtures.js';

/**
 * A coordinator whose Redis never answers (nothing listens on port 9) stays in local mode: every take
 * and key admission is this process's, each cap split among the live data planes.
 */
const coordinator = new RedisCoordinator({
  url: 'redis://127.0.0.1:9',
  keyPrefix: 'cig-test:',
  leaseTtlMs: 30_000,
  commandTimeoutMs: 50,
  health: { rateLimitCapMs: 60_000, backoffBaseMs: 1_000, backoffMaxMs: 10_000, probeHoldMs: 60_000 },
});
afterAll(() => coordinator.close());

function slots(liveInstances: number) {
  const accountLimiter = new AccountLimiter();
  const keyLimiter = new KeyLimiter();
  const health = new AccountHealth({ rateLimitCapMs: 60_000, backoffBaseMs: 1_000, backoffMaxMs: 10_000 });
  return {
    accountLimiter,
    source: new CoordinatedSlots({ coordinator, keyLimiter, accountLimiter, health, liveInstances: () => liveInstances, now: Date.now }),
  };
}

const candidate = (name: string, imageConcurrency: number): Candidate => {
  const account = makeAccount(name, { imageConcurrency });
  return { account, credentials: account.credentials as AccountCredentials };
};

describe('CoordinatedSlots with Redis out of reach: local limits, caps split among live instances', () => {
  it('an account cap of 6 among 3 live instances admits 2 here', async () => {
    const { source, accountLimiter } = slots(3);
    expect(coordinator.mode).toBe('local');
    const a = candidate('a', 6);
    const taken = [await source.take([a], () => null), await source.take([a], () => null), await source.take([a], () => null)];
    expect(taken.map((t) => t.slot !== null)).toEqual([true, true, false]);
    expect(taken[2]!.passed).toEqual([{ candidate: a, skip: 'concurrency_blocked' }]);
    expect(accountLimiter.inFlight(a.account.id)).toBe(2);
    taken[0]!.slot!.permit.release();
    expect((await source.take([a], () => null)).slot).not.toBeNull();
  });

  it('a cap below the instance count still admits one here (no account is shut off)', async () => {
    const { source } = slots(5);
    const a = candidate('a', 2);
    expect((await source.take([a], () => null)).slot).not.toBeNull();
    expect((await source.take([a], () => null)).slot).toBeNull();
  });

  it("a key's max_concurrency is split too, and its min_start_interval_ms stretched by the instance count", async () => {
    const { source } = slots(2);
    const concurrency = [
      await source.admitKey('k', { maxConcurrency: 4, minStartIntervalMs: null }),
      await source.admitKey('k', { maxConcurrency: 4, minStartIntervalMs: null }),
    ];
    expect(concurrency.map((r) => r.admitted)).toEqual([true, true]);
    expect(await source.admitKey('k', { maxConcurrency: 4, minStartIntervalMs: null })).toMatchObject({ admitted: false, reason: 'key_max_concurrency' });
    expect((await source.admitKey('i', { maxConcurrency: null, minStartIntervalMs: 1_000 })).admitted).toBe(true);
    const refused = await source.admitKey('i', { maxConcurrency: null, minStartIntervalMs: 1_000 });
    expect(refused).toMatchObject({ admitted: false, reason: 'key_min_start_interval' });
    if (refused.admitted) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(1_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(2_000);
  });

  it('the gated take folds the key admission in: refused by the key, or a slot plus the key place', async () => {
    const { source } = slots(1);
    const a = candidate('a', 3);
    const gate = { keyId: 'g', maxConcurrency: 1, minStartIntervalMs: null };
    const first = await source.takeGated([a], () => null, gate);
    if (first.kind !== 'take') throw new Error('expected a take');
    expect(first.keyPermit).not.toBeNull();
    expect(first.take.slot?.candidate).toBe(a);
    expect(await source.takeGated([a], () => null, gate)).toMatchObject({ kind: 'key_refused', reason: 'key_max_concurrency' });
  });
});
