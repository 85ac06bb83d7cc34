import { describe, expect, it } from 'vitest';
import { ADMIT_LUA } from '../../src/coord/admit-script.js';
import type { AdmitCandidate, AdmitResult } from '../../src/coord/coord-types.js';
import { CoordinationError } from '../../src/coord/coordination-error.js';
import { useCoordFixture } from '../support/coordinators.js';
import { waitFor } from '../support/wait-for.js';

// A paused (frozen) server is thawed before the coordinators close.
const env = useCoordFixture({ beforeEachClose: (e) => e.server.resume() });
const { bin } = env;

const only = (accountId: string, cap = 1): AdmitCandidate[] => [{ accountId, cap, tokenFingerprint: null }];

function expectAdmitted(result: AdmitResult): Extract<AdmitResult, { kind: 'admitted' }> {
  if (result.kind !== 'admitted') throw new Error(`expected an admission, got ${JSON.stringify(result)}`);
  return result;
}

/** How long `call` takes to settle (ms), and how it settled. */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  const error = await call().then(
    () => null,
    (err: unknown) => err,
  );
  return { ms: performance.now() - started, error };
}

describe.skipIf(!bin)('losing Redis', () => {
  it('Redis stopped: local mode at once, calls fail fast; restarted empty: shared again, scripts reloaded, counts exact', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const { coord, changes } = await env.fx.create({ keyPrefix, leaseTtlMs: 600 });
    const released = expectAdmitted(await coord.admit({ candidates: only('a', 2) }));
    const kept = expectAdmitted(await coord.admit({ candidates: only('a', 2) }));

    await env.server.stop();
    await waitFor('local mode', () => coord.mode === 'local', 2_000);
    const admit = await timed(() => coord.admit({ candidates: only('a', 2) }));
    expect(admit.error).toBeInstanceOf(CoordinationError);
    expect((admit.error as CoordinationError).code).toBe('coordination_unavailable');
    expect(admit.ms).toBeLessThan(50);
    const release = await timed(() => coord.release([released.accountLease]));
    expect(release.ms).toBeLessThan(50);
    // Many failed calls, one transition.
    await Promise.all([coord.readLoad(['a']), coord.listCooldowns(), coord.clearCooldown('a')].map((p) => p.catch(() => null)));
    expect(changes).toEqual([
      { mode: 'shared', cause: 'connected' },
      { mode: 'local', cause: 'connection_lost' },
    ]);

    await env.server.restart();
    await waitFor('shared mode again', () => coord.mode === 'shared', 5_000);
    expect(changes.at(-1)).toEqual({ mode: 'shared', cause: 'connected' });
    // The restart lost every lease; the still-running request's lease comes back with the next
    // renewal, the one released during the outage does not.
    await waitFor('the held lease renewed back', async () => (await coord.readLoad(['a'])).get('a')?.inFlight === 1);
    const members = await env.fx.raw.zrange(`${keyPrefix}account:a:leases`, '0', '-1');
    expect(members).toEqual([kept.accountLease.id]);
    // The script cache was empty after the restart: the first call loaded it again.
    expect(await coord.admit({ candidates: only('a', 2) })).toMatchObject({ kind: 'admitted' });
    const sha = (await import('node:crypto')).createHash('sha1').update(ADMIT_LUA).digest('hex');
    expect(await env.fx.raw.script('EXISTS', sha)).toEqual([1]);
    expect(await coord.admit({ candidates: only('a', 2) })).toMatchObject({ kind: 'none', blockedAccountIds: ['a'] });
  });

  it('releasing leases a restart already lost leaves the count at zero, never below', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const { coord } = await env.fx.create({ keyPrefix });
    const held = expectAdmitted(await coord.admit({ keyGate: { keyId: 'k', maxConcurrency: 1, minStartIntervalMs: null }, candidates: only('a') }));
    await env.server.restart();
    await waitFor('shared mode again', () => coord.mode === 'shared', 5_000);
    expect(await coord.release([held.accountLease, held.keyLease ?? held.accountLease])).toBe(true);
    expect((await coord.readLoad(['a'])).get('a')?.inFlight).toBe(0);
    // Exactly the cap again: one admission, then the account and the key are full.
    expect(await coord.admit({ keyGate: { keyId: 'k', maxConcurrency: 1, minStartIntervalMs: null }, candidates: only('a') })).toMatchObject({
      kind: 'admitted',
    });
    expect(await coord.admit({ candidates: only('a') })).toMatchObject({ kind: 'none', blockedAccountIds: ['a'] });
    expect(await coord.admit({ keyGate: { keyId: 'k', maxConcurrency: 1, minStartIntervalMs: null }, candidates: only('b') })).toMatchObject({
      kind: 'key_refused',
      inFlight: 1,
    });
  });

  it('Redis frozen: a call gives up after the command timeout and the mode turns local; thawed: shared again', async () => {
    const keyPrefix = env.fx.nextPrefix();
    const { coord, changes } = await env.fx.create({ keyPrefix, commandTimeoutMs: 150 });
    const finished = expectAdmitted(await coord.admit({ candidates: only('b') }));
    env.server.pause();
    const frozen = await timed(() => coord.admit({ candidates: only('a') }));
    expect((frozen.error as CoordinationError).code).toBe('coordination_unavailable');
    expect(frozen.ms).toBeLessThan(1_000);
    expect(coord.mode).toBe('local');
    const next = await timed(() => coord.admit({ candidates: only('a') }));
    expect(next.error).toBeInstanceOf(CoordinationError);
    expect(next.ms).toBeLessThan(50);
    // A request that ends during the outage: its release is held back, not lost.
    expect(await coord.release([finished.accountLease])).toBe(false);
    env.server.resume();
    await waitFor('shared mode again', () => coord.mode === 'shared', 5_000);
    expect(changes).toEqual([
      { mode: 'shared', cause: 'connected' },
      { mode: 'local', cause: 'command_failed' },
      { mode: 'shared', cause: 'recovered' },
    ]);
    // Redis ran the timed-out admission when it thawed; the coordinator released its lease once back.
    await waitFor('the unanswered admission released', async () => (await coord.readLoad(['a'])).get('a')?.inFlight === 0);
    // The lease TTL is 30 s: only the resent release can have freed b this soon.
    await waitFor('the held-back release sent', async () => (await coord.readLoad(['b'])).get('b')?.inFlight === 0);
    expect(await coord.admit({ candidates: only('a') })).toMatchObject({ kind: 'admitted' });
  });
});
