import { describe, expect, it } from 'vitest';
import { describeExhaustion, exhaustionError, exhaustionRetryAfterSeconds, type SkipClass } from '../../../src/dispatch/exhaustion.js';
import { ERRORS } from '../../../src/errors/codes.js';

describe('exhaustionError', () => {
  it.each<[SkipClass[], string, number]>([
    [['concurrency_blocked'], 'accounts_busy', 429],
    [['concurrency_blocked', 'concurrency_blocked'], 'accounts_busy', 429],
    [['auth'], 'no_usable_accounts', 503],
    [['rate_limited', 'auth'], 'no_usable_accounts', 503],
    [['auth', 'rate_limited'], 'account_pool_exhausted', 502],
    [['upstream_server'], 'account_pool_exhausted', 502],
    [['upstream_request'], 'account_pool_exhausted', 502],
    [['upstream_timeout'], 'upstream_timeout', 504],
    [['auth', 'upstream_timeout'], 'upstream_timeout', 504],
    // Unlike the original, a trailing busy account does not hide the real failure before it.
    [['auth', 'concurrency_blocked'], 'no_usable_accounts', 503],
    [['upstream_timeout', 'concurrency_blocked'], 'upstream_timeout', 504],
    [[], 'accounts_busy', 429],
  ])('%j → %s (%d)', (skips, code, status) => {
    const result = exhaustionError(skips);
    expect(result).toBe(code);
    expect(ERRORS[result].status).toBe(status);
  });

  it('describes what happened with counts, starting with the original sentence', () => {
    expect(describeExhaustion(['auth', 'auth', 'rate_limited'])).toBe(
      'all eligible codex image accounts failed for this request (2 auth, 1 rate_limited)',
    );
  });
});

describe('exhaustionRetryAfterSeconds', () => {
  it.each<[Array<number | null>, number | null]>([
    [[], null],
    [[null, null], null],
    [[30, null, 12.2], 13],
    [[0.2], 1],
    [[3600, 59], 59],
  ])('%j → %s', (hints, expected) => {
    expect(exhaustionRetryAfterSeconds(hints.map((retryAfterSeconds) => ({ retryAfterSeconds })))).toBe(expected);
  });
});
