import { describe, expect, it } from 'vitest';
import { AccountHealth, computeBackoffMs, fingerprintToken, RATE_LIMIT_PROBE_HOLD_MS, type AttemptReport } from '../../../src/dispatch/account-health.js';

const POLICY = { rateLimitCapMs: 3_600_000, backoffBaseMs: 5_000, backoffMaxMs: 300_000 };
const T0 = 1_800_000_000_000;

/** A tracker on a clock the test moves by hand. */
function setup(policy = POLICY) {
  let now = T0;
  const health = new AccountHealth(policy, () => now);
  return { health, advance: (ms: number) => (now += ms), at: () => now };
}

const attempt = (overrides: Partial<AttemptReport>): AttemptReport => ({
  accountId: 'a',
  status: 200,
  errorClass: null,
  retryAfterSeconds: null,
  ...overrides,
});
const rateLimited = (seconds: number | null) => attempt({ status: 429, errorClass: 'rate_limited', retryAfterSeconds: seconds });
const serverError = attempt({ status: 502, errorClass: 'upstream_server' });
const unauthorized = attempt({ status: 401, errorClass: 'auth' });

describe('computeBackoffMs', () => {
  it.each([
    [1, 5_000],
    [2, 10_000],
    [3, 20_000],
    [6, 160_000],
    [7, 300_000],
    [60, 300_000],
  ])('after %d consecutive failures → %d ms', (failures, ms) => {
    expect(computeBackoffMs(failures, POLICY)).toBe(ms);
  });
});

describe('AccountHealth', () => {
  it('a 429 with a reset hint pauses the account until the reset, and not a moment longer', () => {
    const { health, advance } = setup();
    health.report(rateLimited(90), 'tok');
    expect(health.claimAttempt('a', 'tok')).toEqual({ accountId: 'a', cause: 'rate_limited', untilMs: T0 + 90_000, failures: 0, capped: false });
    expect(health.claimAttempt('b', 'tok')).toBeNull();
    advance(89_999);
    expect(health.claimAttempt('a', 'tok')).not.toBeNull();
    advance(1);
    expect(health.claimAttempt('a', 'tok')).toBeNull();
  });

  it('caps a long reset hint, then lets only the first request re-probe; another 429 pauses it again', () => {
    const { health, advance } = setup();
    health.report(rateLimited(5 * 3600), 'tok');
    expect(health.claimAttempt('a', 'tok')).toMatchObject({ untilMs: T0 + 3_600_000, capped: true });
    advance(3_600_000);
    expect(health.claimAttempt('a', 'tok')).toBeNull(); // the probe
    expect(health.claimAttempt('a', 'tok')).toMatchObject({ cause: 'rate_limited', untilMs: T0 + 3_600_000 + RATE_LIMIT_PROBE_HOLD_MS });
    health.report(rateLimited(60), 'tok');
    expect(health.claimAttempt('a', 'tok')).toMatchObject({ cause: 'rate_limited', capped: false, untilMs: T0 + 3_660_000 });
  });

  it('peekCooldown reports without taking the probe (a status page must not steal it from traffic)', () => {
    const { health, advance } = setup();
    health.report(rateLimited(5 * 3600), 'tok');
    expect(health.peekCooldown('a', 'tok')).toMatchObject({ capped: true });
    advance(3_600_000);
    for (let i = 0; i < 3; i += 1) expect(health.peekCooldown('a', 'tok')).toBeNull();
    expect(health.claimAttempt('a', 'tok')).toBeNull(); // real traffic still gets the probe
    expect(health.peekCooldown('a', 'tok')).toMatchObject({ untilMs: T0 + 3_600_000 + RATE_LIMIT_PROBE_HOLD_MS });
  });

  it('a successful probe frees the account for everyone; a probe that never reports frees it after the hold', () => {
    const { health, advance } = setup();
    health.report(rateLimited(5 * 3600), 'tok');
    advance(3_600_000);
    expect(health.claimAttempt('a', 'tok')).toBeNull();
    health.report(attempt({}), 'tok');
    expect(health.claimAttempt('a', 'tok')).toBeNull();
    expect(health.claimAttempt('a', 'tok')).toBeNull();

    health.report(rateLimited(5 * 3600), 'tok');
    advance(3_600_000);
    expect(health.claimAttempt('a', 'tok')).toBeNull();
    advance(RATE_LIMIT_PROBE_HOLD_MS - 1);
    expect(health.claimAttempt('a', 'tok')).not.toBeNull();
    advance(1);
    expect(health.claimAttempt('a', 'tok')).toBeNull();
    expect(health.claimAttempt('a', 'tok')).toBeNull();
  });

  it('an uncapped reset ends for everyone at once (no probe hold)', () => {
    const { health, advance } = setup();
    health.report(rateLimited(60), 'tok');
    advance(60_000);
    expect(health.claimAttempt('a', 'tok')).toBeNull();
    expect(health.claimAttempt('a', 'tok')).toBeNull();
  });

  it('5xx backoff grows with consecutive failures and a success resets it', () => {
    const { health, advance, at } = setup();
    const untils: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      health.report(serverError, 'tok');
      const cooldown = health.claimAttempt('a', 'tok')!;
      untils.push(cooldown.untilMs - at());
      advance(cooldown.untilMs - at());
      expect(health.claimAttempt('a', 'tok')).toBeNull();
    }
    expect(untils).toEqual([5_000, 10_000, 20_000]);
    health.report(attempt({}), 'tok');
    health.report(serverError, 'tok');
    expect(health.claimAttempt('a', 'tok')).toMatchObject({ failures: 1, untilMs: at() + 5_000 });
  });

  it.each([
    ['timeout', attempt({ status: null, errorClass: 'upstream_timeout' })],
    ['network failure', attempt({ status: null, errorClass: 'upstream_request' })],
    ['429 without a reset hint', rateLimited(null)],
    ['403', attempt({ status: 403, errorClass: 'auth' })],
  ])('%s → the failure backoff', (_name, report) => {
    const { health } = setup();
    health.report(report, 'tok');
    expect(health.claimAttempt('a', 'tok')).toMatchObject({ cause: 'upstream_failure', untilMs: T0 + 5_000 });
  });

  it.each([
    ['client abort', attempt({ status: null, errorClass: 'client_aborted' })],
    ['busy', attempt({ status: null, errorClass: 'concurrency_blocked' })],
    ['bad proxy', attempt({ status: null, errorClass: 'proxy_client' })],
  ])('%s says nothing about the account (no pause, no reset)', (_name, report) => {
    const { health } = setup();
    health.report(report, 'tok');
    expect(health.claimAttempt('a', 'tok')).toBeNull();
    health.report(serverError, 'tok');
    health.report(report, 'tok');
    expect(health.claimAttempt('a', 'tok')).toMatchObject({ failures: 1 });
  });

  it('a client error (400) is an answer: it resets the failure count', () => {
    const { health } = setup();
    health.report(serverError, 'tok');
    health.report(attempt({ status: 400, errorClass: 'client_error' }), 'tok');
    expect(health.claimAttempt('a', 'tok')).toBeNull();
  });

  it('a 401 pauses the account until its access token changes (or the cap passes)', () => {
    const { health, advance } = setup();
    health.report(unauthorized, 'old-token');
    expect(health.claimAttempt('a', 'old-token')).toMatchObject({ cause: 'auth', untilMs: T0 + 3_600_000 });
    advance(60_000);
    expect(health.claimAttempt('a', 'old-token')).not.toBeNull();
    expect(health.claimAttempt('a', 'new-token')).toBeNull();
    expect(health.claimAttempt('a', 'old-token')).toBeNull();
  });

  it('a 401 cooldown with an unchanged token ends at the cap', () => {
    const { health, advance } = setup();
    health.report(unauthorized, 'tok');
    advance(3_600_000);
    expect(health.claimAttempt('a', 'tok')).toBeNull();
  });

  it('clear() ends a cooldown and starts the failure count over; list() shows only running ones', () => {
    const { health, advance, at } = setup();
    health.report(serverError, 'tok');
    health.report(rateLimited(10), 'tok');
    health.report(attempt({ accountId: 'b' }), 'tok');
    health.report(rateLimited(60), 'tok');
    health.report(attempt({ accountId: 'c', status: 429, errorClass: 'rate_limited', retryAfterSeconds: 30 }), 'tok');
    expect(health.list().map((c) => c.accountId)).toEqual(['c', 'a']);
    expect(health.clear('a')).toBe(true);
    expect(health.clear('a')).toBe(false);
    expect(health.claimAttempt('a', 'tok')).toBeNull();
    health.report(serverError, 'tok');
    expect(health.claimAttempt('a', 'tok')).toMatchObject({ failures: 1, untilMs: at() + 5_000 });
    advance(30_000);
    expect(health.list().map((c) => c.accountId)).toEqual([]);
  });

  it('a zero policy never pauses an account', () => {
    const { health } = setup({ rateLimitCapMs: 0, backoffBaseMs: 0, backoffMaxMs: 0 });
    for (const report of [rateLimited(60), serverError, unauthorized]) {
      health.report(report, 'tok');
      expect(health.claimAttempt('a', 'tok')).toBeNull();
    }
  });

  it('never keeps or shows the token: the status holds no fingerprint either', () => {
    const { health } = setup();
    health.report(unauthorized, 'secret-access-token');
    const shown = JSON.stringify([health.list(), health.claimAttempt('a', 'secret-access-token')]);
    expect(shown).not.toContain('secret-access-token');
    expect(shown).not.toContain(fingerprintToken('secret-access-token'));
  });
});
