import { describe, expect, it } from 'vitest';
import type { AdmitCandidate, AdmitResult } from '../../src/coord/coord-types.js';
import { useCoordFixture } from '../support/coordinators.js';
import { waitFor } from '../support/wait-for.js';

const env = useCoordFixture();
const { bin } = env;

const only = (accountId: string, cap = 1): AdmitCandidate[] => [{ accountId, cap, tokenFingerprint: null }];
const TTL_MS = 300;

function expectAdmitted(result: AdmitResult): Extract<AdmitResult, { kind: 'admitted' }> {
  if (result.kind !== 'admitted') throw new Error(`expected an admission, got ${JSON.stringify(result)}`);
  return result;
}

describe.skipIf(!bin)('leases', () => {
  it('a holder that stops renewing (a killed process) frees its places within the lease TTL', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const holder = (await env.fx.create({ keyPrefix, leaseTtlMs: TTL_MS })).coord;
    const other = (await env.fx.create({ keyPrefix, leaseTtlMs: TTL_MS })).coord;
    expectAdmitted(await holder.admit({ keyGate: { keyId: 'k', maxConcurrency: 1, minStartIntervalMs: null }, candidates: only('a') }));
    expect(await other.admit({ candidates: only('a') })).toMatchObject({ kind: 'none', blockedAccountIds: ['a'] });
    const stoppedAt = await env.fx.serverNowMs();
    await holder.close();
    const freed = await waitFor('the account free again', async () => {
      const r = await other.admit({ keyGate: { keyId: 'k', maxConcurrency: 1, minStartIntervalMs: null }, candidates: only('a') });
      return r.kind === 'admitted' ? r : null;
    });
    // The last renewal came at most a TTL before the stop; polling every 20 ms (slower on a busy machine) adds a little.
    expect(freed.serverNowMs - stoppedAt).toBeLessThanOrEqual(TTL_MS + 400);
  });

  it('a take that finds the account full says when its soonest place lapses unless renewed (a lapse announces nothing)', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const holder = (await env.fx.create({ keyPrefix, leaseTtlMs: TTL_MS })).coord;
    const other = (await env.fx.create({ keyPrefix, leaseTtlMs: TTL_MS })).coord;
    const held = expectAdmitted(await holder.admit({ candidates: only('a') }));
    const none = await other.admit({ candidates: only('a') });
    if (none.kind !== 'none') throw new Error(`expected none, got ${JSON.stringify(none)}`);
    expect(none.blockedAccountIds).toEqual(['a']);
    // The lease's expiry: its admission time plus the TTL (a renewal since can only push it later).
    expect(none.nextLapseMs).toBeGreaterThanOrEqual(held.serverNowMs + TTL_MS);
    expect(none.nextLapseMs).toBeLessThanOrEqual(none.serverNowMs + TTL_MS);
    await holder.release([held.accountLease]);
  });

  it('a live holder keeps its places well past the TTL by renewing them', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const holder = (await env.fx.create({ keyPrefix, leaseTtlMs: TTL_MS })).coord;
    const other = (await env.fx.create({ keyPrefix, leaseTtlMs: TTL_MS })).coord;
    const held = expectAdmitted(await holder.admit({ candidates: only('a') }));
    await waitFor("three lease TTLs on Redis's clock", async () => (await env.fx.serverNowMs()) > held.serverNowMs + 3 * TTL_MS, 5_000);
    expect((await other.readLoad(['a'])).get('a')?.inFlight).toBe(1);
    expect(await other.admit({ candidates: only('a') })).toMatchObject({ kind: 'none', blockedAccountIds: ['a'] });
    expect(await holder.release([held.accountLease])).toBe(true);
    expect((await other.readLoad(['a'])).get('a')?.inFlight).toBe(0);
  });

  it('renew renews every held lease in one call, and a released lease is no longer renewed', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const holder = (await env.fx.create({ keyPrefix, leaseTtlMs: 60_000 })).coord;
    const first = expectAdmitted(await holder.admit({ keyGate: { keyId: 'k', maxConcurrency: null, minStartIntervalMs: null }, candidates: only('a', 5) }));
    const second = expectAdmitted(await holder.admit({ candidates: only('a', 5) }));
    await holder.release([first.accountLease]);
    expect(await holder.renew()).toBe(0);
    const members = await env.fx.raw.zrange(`${keyPrefix}account:a:leases`, '0', '-1');
    expect(members).toEqual([second.accountLease.id]);
    expect(await env.fx.raw.zrange(`${keyPrefix}key:k:leases`, '0', '-1')).toEqual([first.keyLease?.id]);
  });

  it('release announces the freed accounts to every instance that listens', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const [holder, listener] = [(await env.fx.create({ keyPrefix })).coord, (await env.fx.create({ keyPrefix })).coord];
    const heard: string[][] = [];
    const sub = listener.onFreed((ids) => heard.push(ids));
    await sub.ready;
    const held = expectAdmitted(await holder.admit({ keyGate: { keyId: 'k', maxConcurrency: 2, minStartIntervalMs: null }, candidates: only('a') }));
    await holder.release([held.accountLease, held.keyLease ?? held.accountLease]);
    await waitFor('the announcement', () => heard.length > 0);
    expect(heard).toEqual([['a']]);
    sub.unsubscribe();
  });
});
