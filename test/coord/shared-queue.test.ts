import { describe, expect, it } from 'vitest';
import { buildCoordKeys, type CoordKeys } from '../../src/coord/coord-keys.js';
import type { AdmitCandidate, Lease, QueueTicket, TurnResult } from '../../src/coord/coord-types.js';
import type { RedisCoordinator } from '../../src/coord/redis-coordinator.js';
import { useCoordFixture } from '../support/coordinators.js';
import { waitFor } from '../support/wait-for.js';

const env = useCoordFixture();
const { bin } = env;

const candidate = (accountId: string, cap = 1): AdmitCandidate => ({ accountId, cap, tokenFingerprint: null });

/** Two coordinators on one prefix (two gateway processes sharing one Redis), and that prefix's key names. */
async function twoInstances(leaseTtlMs = 30_000): Promise<[RedisCoordinator, RedisCoordinator, CoordKeys]> {
  const keyPrefix = env.fx.nextPrefix();
  const [a, b] = await Promise.all([0, 1].map(async () => (await env.fx.create({ keyPrefix, leaseTtlMs })).coord));
  return [a as RedisCoordinator, b as RedisCoordinator, buildCoordKeys(keyPrefix)];
}

/** Takes the only place of `accountId` (cap 1) with a plain admission; returns its lease. */
async function hold(coord: RedisCoordinator, accountId: string): Promise<Lease> {
  const result = await coord.admit({ candidates: [candidate(accountId)] });
  if (result.kind !== 'admitted') throw new Error(`${accountId} should be free`);
  return result.accountLease;
}

/** A ticket that has joined its key's queue on `coord`. */
async function joined(coord: RedisCoordinator, keyId: string, accountIds: string[]): Promise<QueueTicket> {
  const ticket = coord.queue.openTicket(keyId, accountIds);
  await coord.queue.join(ticket);
  return ticket;
}

const takeOn = (coord: RedisCoordinator, ticket: QueueTicket): Promise<TurnResult> =>
  coord.queue.takeTurn(
    ticket,
    ticket.accountIds.map((id) => candidate(id)),
  );

describe.skipIf(!bin)('the wait queue shared across instances', () => {
  it('FIFO within a key across two instances: the younger ticket is refused, taking nothing, until the older is served or leaves', async () => {
    const [a, b, keys] = await twoInstances();
    const holder = await hold(a, 'acct');
    const older = await joined(a, 'k', ['acct']);
    const younger = await joined(b, 'k', ['acct']);
    const third = await joined(a, 'k', ['acct']);
    // Nothing free yet: the head hears which accounts block it.
    expect(await takeOn(a, older)).toMatchObject({ kind: 'none', blockedAccountIds: ['acct'] });
    await a.release([holder]);
    const refused = await takeOn(b, younger);
    expect(refused.kind).toBe('not_your_turn');
    expect((await a.readLoad(['acct'])).get('acct')?.inFlight).toBe(0);
    const served = await takeOn(a, older);
    expect(served.kind).toBe('admitted');
    if (served.kind !== 'admitted') return;
    await a.release([served.accountLease]);
    // The next head leaves (time up, client gone): its place passes at once to the one behind it.
    expect((await takeOn(a, third)).kind).toBe('not_your_turn');
    await b.queue.leave(younger);
    expect((await takeOn(a, third)).kind).toBe('admitted');
    // Every ticket is gone: the key no longer counts as waiting.
    expect(await env.fx.raw.zcard(keys.queue('k').order)).toBe(0);
    expect(await env.fx.raw.smembers(keys.queueWaiting)).toEqual([]);
  });

  it("an instance's head that joined late (after an outage) stands in its instance's oldest place", async () => {
    const [a, b, keys] = await twoInstances();
    const holder = await hold(a, 'acct');
    // a's local head never joined (Redis was out then); its follower did, then b's waiter.
    const late = a.queue.openTicket('k', ['acct']);
    const follower = await joined(a, 'k', ['acct']);
    const other = await joined(b, 'k', ['acct']);
    await a.release([holder]);
    // b's waiter is behind a's oldest place; a's head (the follower is never tried) takes it.
    expect((await takeOn(b, other)).kind).toBe('not_your_turn');
    const place = await env.fx.raw.zscore(keys.queue('k').order, follower.id);
    const ofLate = await takeOn(a, late);
    if (ofLate.kind !== 'admitted') throw new Error("a's head should be served");
    // That place is used up: the follower now has the late one's, behind b's waiter.
    const moved = await env.fx.raw.zscore(keys.queue('k').order, follower.id);
    expect(Number(moved)).toBeGreaterThan(Number(place));
    expect(Number(moved)).toBeGreaterThan(Number(await env.fx.raw.zscore(keys.queue('k').order, other.id)));
    await a.release([ofLate.accountLease]);
    expect((await takeOn(a, follower)).kind).toBe('not_your_turn');
    expect((await takeOn(b, other)).kind).toBe('admitted');
  });

  it('a ticket the queue lost (a Redis restart) joins again on its next take, at the back', async () => {
    const [a, b, keys] = await twoInstances();
    const holder = await hold(a, 'acct');
    const lost = await joined(a, 'k', ['acct']);
    const kept = await joined(b, 'k', ['acct']);
    const q = keys.queue('k');
    await env.fx.raw.multi().zrem(q.order, lost.id).zrem(q.leases, lost.id).hdel(q.accounts, lost.id).exec();
    await a.release([holder]);
    expect((await takeOn(a, lost)).kind).toBe('not_your_turn');
    expect(Number(await env.fx.raw.zscore(q.order, lost.id))).toBeGreaterThan(Number(await env.fx.raw.zscore(q.order, kept.id)));
    expect((await takeOn(b, kept)).kind).toBe('admitted');
  });

  it('two keys across two instances take turns: the key served longest ago goes first, whoever asks first', async () => {
    const [a, b] = await twoInstances();
    const holder = await hold(a, 'acct');
    const tickets = {
      x1: await joined(a, 'x', ['acct']),
      x2: await joined(b, 'x', ['acct']),
      y1: await joined(b, 'y', ['acct']),
      y2: await joined(a, 'y', ['acct']),
    };
    const owner = (name: string) => (name === 'x1' || name === 'y2' ? a : b);
    let lease = holder;
    const served: string[] = [];
    while (served.length < 4) {
      await a.release([lease]);
      // Every waiter tries, key x's first: only the rightful one is admitted.
      let taken: string | null = null;
      for (const [name, ticket] of Object.entries(tickets)) {
        if (served.includes(name) || taken) continue;
        const turn = await takeOn(owner(name), ticket);
        if (turn.kind === 'admitted') {
          taken = name;
          lease = turn.accountLease;
        } else expect(turn.kind).toBe('not_your_turn');
      }
      if (!taken) throw new Error(`nobody was served after ${served.join(', ')}`);
      served.push(taken);
    }
    expect(served).toEqual(['x1', 'y1', 'x2', 'y2']);
  });

  it("a killed holder's tickets lapse within the lease TTL; the refusal says when to look again", async () => {
    const [dead, live, keys] = await twoInstances(600);
    const gone = await joined(dead, 'k', ['acct']);
    const waiting = await joined(live, 'k', ['acct']);
    // Its holder stops renewing (as a kill -9 would): its ticket stays first until it lapses.
    await dead.close();
    const refused = await takeOn(live, waiting);
    if (refused.kind !== 'not_your_turn' || refused.untilMs === null) throw new Error('the dead head should go first for now');
    expect(refused.untilMs - refused.serverNowMs).toBeLessThanOrEqual(600);
    const start = Date.now();
    await waitFor('the dead ticket to lapse', async () => (await takeOn(live, waiting)).kind === 'admitted', 5_000);
    expect(Date.now() - start).toBeLessThan(600 + 1_000);
    expect(await env.fx.raw.zscore(keys.queue('k').order, gone.id)).toBeNull();
    expect(await env.fx.raw.hget(keys.queue('k').accounts, gone.id)).toBeNull();
  });

  it("a head waiting only for busy or cooling accounts does not hold up another key's waiter for a free one; one competing for it does", async () => {
    const [a, b] = await twoInstances();
    await hold(a, 'busy');
    await a.report('cool', { status: 429, errorClass: 'rate_limited', retryAfterSeconds: 60 }, null);
    // x's head is older (both keys unserved: the older head goes first), but none of its accounts is free.
    const x = await joined(a, 'x', ['busy', 'cool']);
    const y = await joined(b, 'y', ['busy', 'cool', 'free']);
    const ofY = await takeOn(b, y);
    expect(ofY).toMatchObject({ kind: 'admitted', accountId: 'free' });
    expect(await takeOn(a, x)).toMatchObject({ kind: 'none', blockedAccountIds: ['busy'] });
    if (ofY.kind === 'admitted') await b.release([ofY.accountLease]);
    // An older head that could use the free account does go first: z (served just now, y) waits for it.
    const z = await joined(b, 'y', ['free']);
    const w = await joined(a, 'w', ['free', 'busy']);
    expect((await takeOn(b, z)).kind).toBe('not_your_turn');
    expect(await takeOn(a, w)).toMatchObject({ kind: 'admitted', accountId: 'free' });
  });

  it('announces what waiters refused on it may take now: the accounts a grant left free, and those of a head that leaves', async () => {
    const [a, b] = await twoInstances();
    const heard: string[][] = [];
    const sub = b.onFreed((ids) => heard.push(ids));
    await sub.ready;
    await hold(a, 'busy');
    const x = await joined(a, 'x', ['busy']);
    const y = await joined(b, 'y', ['p', 'q']);
    expect(await takeOn(b, y)).toMatchObject({ kind: 'admitted', accountId: 'p' });
    await waitFor('the account the grant left free', () => heard.some((ids) => ids.join() === 'q'));
    // z waits behind x for the same account: x leaving announces it.
    await joined(b, 'z', ['busy']);
    await a.queue.leave(x);
    await waitFor("the leaving head's accounts", () => heard.some((ids) => ids.join() === 'busy'));
    sub.unsubscribe();
  });
});
