import { describe, expect, it } from 'vitest';
import { planCandidates, resolveRoutedAccountIds } from '../../../src/dispatch/plan-candidates.js';
import { makeAccount, makeKey, makeSnapshot } from '../../support/snapshot-fixtures.js';

const NOW = 1_800_000_000_000;
const idle = { now: NOW, allowFreePlans: false, inFlight: () => 0, lastStartMs: () => 0 };
const names = (plan: ReturnType<typeof planCandidates>) => plan.candidates.map((c) => c.account.name);

describe('planCandidates', () => {
  it('keeps only active, image-enabled accounts of the key routing', () => {
    const snapshot = makeSnapshot([], [makeAccount('a'), makeAccount('b', { imageEnabled: false }), makeAccount('c', { status: 'disabled' })]);
    const plan = planCandidates(makeKey(), snapshot, idle);
    expect(names(plan)).toEqual(['a']);
    expect(plan.imageEnabledCount).toBe(1);
  });

  it('excludes expired tokens, free plans and unreadable credentials, and says why', () => {
    const snapshot = makeSnapshot(
      [],
      [
        makeAccount('expired', { accessTokenExpiresAt: NOW }),
        makeAccount('fresh', { accessTokenExpiresAt: NOW + 1 }),
        makeAccount('unknown-exp', { accessTokenExpiresAt: null }),
        makeAccount('free', { planType: 'free' }),
        makeAccount('broken', {}, null),
      ],
    );
    const plan = planCandidates(makeKey(), snapshot, idle);
    expect(names(plan)).toEqual(['fresh', 'unknown-exp']);
    expect(plan.excluded.sort()).toEqual(['credentials_unreadable', 'free_plan', 'token_expired']);
    expect(plan.imageEnabledCount).toBe(5);
  });

  it('leaves out accounts that need re-import, before anything else about them', () => {
    const snapshot = makeSnapshot([], [makeAccount('dead', { needsReimport: true }, null), makeAccount('ok')]);
    const plan = planCandidates(makeKey(), snapshot, idle);
    expect(names(plan)).toEqual(['ok']);
    expect(plan.excluded).toEqual(['needs_reimport']);
  });

  it('leaves out cooling-down accounts and reports the earliest end; the token is what the health check sees', () => {
    const snapshot = makeSnapshot([], [makeAccount('a'), makeAccount('b'), makeAccount('c'), makeAccount('d', { accessTokenExpiresAt: NOW })]);
    const seen: string[] = [];
    const cooldownOf = (id: string, token: string) => {
      seen.push(`${id}:${token}`);
      const untilMs = { acct_a: NOW + 5_000, acct_b: NOW + 2_000, acct_d: NOW + 1 }[id];
      const cause = id === 'acct_a' ? ('rate_limited' as const) : ('upstream_failure' as const);
      return untilMs === undefined ? null : { accountId: id, cause, untilMs, failures: 0, capped: false };
    };
    const plan = planCandidates(makeKey(), snapshot, { ...idle, cooldownOf });
    expect(names(plan)).toEqual(['c']);
    // A cooldown after an upstream 429 is told apart from one after failures.
    expect(plan.excluded.sort()).toEqual(['cooling_down', 'rate_limited', 'token_expired']);
    expect(plan.cooldownUntilMs).toBe(NOW + 2_000);
    // An account excluded for another reason is not asked about (its cooldown must not set the time).
    expect(seen.sort()).toEqual(['acct_a:tok-a', 'acct_b:tok-b', 'acct_c:tok-c']);
  });

  it('without cooldowns the plan says so', () => {
    expect(planCandidates(makeKey(), makeSnapshot([], [makeAccount('a')]), idle).cooldownUntilMs).toBeNull();
  });

  it('free plans are routable when allowed', () => {
    const snapshot = makeSnapshot([], [makeAccount('free', { planType: 'FREE' })]);
    expect(names(planCandidates(makeKey(), snapshot, { ...idle, allowFreePlans: true }))).toEqual(['free']);
    expect(names(planCandidates(makeKey(), snapshot, idle))).toEqual([]);
  });

  it('orders by load relative to cap, then least recently started, then name', () => {
    const snapshot = makeSnapshot(
      [],
      [
        makeAccount('a', { imageConcurrency: 2 }),
        makeAccount('b', { imageConcurrency: 4 }),
        makeAccount('c', { imageConcurrency: 4 }),
        makeAccount('d', { imageConcurrency: 4 }),
      ],
    );
    const inFlight: Record<string, number> = { acct_a: 1, acct_b: 1, acct_c: 0, acct_d: 0 };
    const lastStart: Record<string, number> = { acct_c: 50, acct_d: 20 };
    const plan = planCandidates(makeKey(), snapshot, {
      ...idle,
      inFlight: (id) => inFlight[id] ?? 0,
      lastStartMs: (id) => lastStart[id] ?? 0,
    });
    expect(names(plan)).toEqual(['d', 'c', 'b', 'a']);
  });

  it('is deterministic for equal cases', () => {
    const snapshot = makeSnapshot(
      [],
      ['z', 'm', 'a'].map((n) => makeAccount(n)),
    );
    expect(names(planCandidates(makeKey(), snapshot, idle))).toEqual(['a', 'm', 'z']);
  });
});

describe('resolveRoutedAccountIds', () => {
  const snapshot = makeSnapshot(
    [],
    [makeAccount('a'), makeAccount('b'), makeAccount('c')],
    new Map([['grp_1', { id: 'grp_1', name: 'g', accountIds: ['acct_c', 'acct_gone', 'acct_a'], createdAt: 0, updatedAt: 0 }]]),
  );
  it.each([
    [{ mode: 'all' as const }, ['acct_a', 'acct_b', 'acct_c']],
    [{ mode: 'accounts' as const, accountIds: ['acct_b', 'acct_missing'] }, ['acct_b']],
    [{ mode: 'group' as const, groupId: 'grp_1' }, ['acct_c', 'acct_a']],
    [{ mode: 'group' as const, groupId: 'grp_deleted' }, []],
  ])('routing %j', (routing, expected) => {
    expect(resolveRoutedAccountIds(makeKey({ routing }), snapshot)).toEqual(expected);
  });
});
