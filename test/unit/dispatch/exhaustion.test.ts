import { describe, expect, it } from 'vitest';
import { describeExhaustion, exhaustionError, exhaustionRetryAfterMs, explainExhaustion, type SkipClass } from '../../../src/dispatch/exhaustion.js';
import { ERRORS } from '../../../src/errors/codes.js';

describe('exhaustionError', () => {
  it.each<[SkipClass[], string, number]>([
    [['concurrency_blocked'], 'accounts_busy', 429],
    [['concurrency_blocked', 'concurrency_blocked'], 'accounts_busy', 429],
    [['auth'], 'no_usable_accounts', 503],
    [['rate_limited', 'auth'], 'no_usable_accounts', 503],
    [['auth', 'rate_limited'], 'account_pool_exhausted', 502],
    // Every real failure an upstream 429: a rate limit the SDKs raise as such (not a 502).
    [['rate_limited'], 'accounts_rate_limited', 429],
    [['rate_limited', 'rate_limited'], 'accounts_rate_limited', 429],
    [['concurrency_blocked', 'rate_limited', 'concurrency_blocked'], 'accounts_rate_limited', 429],
    // Near misses: one failure of another kind is no longer only a rate limit.
    [['upstream_server', 'rate_limited'], 'account_pool_exhausted', 502],
    [['rate_limited', 'upstream_server'], 'account_pool_exhausted', 502],
    [['rate_limited', 'upstream_request'], 'account_pool_exhausted', 502],
    [['rate_limited', 'upstream_timeout'], 'upstream_timeout', 504],
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
    expect(describeExhaustion(['auth', 'auth', 'rate_limited'])).toBe('all eligible codex image accounts failed for this request (2 auth, 1 rate_limited)');
  });
});

describe('exhaustionRetryAfterMs', () => {
  const NOW = 100_000;
  it.each<[string, Array<[number, number | null]>, number | null]>([
    ['no attempts', [], null],
    [
      'no attempt said',
      [
        [NOW, null],
        [NOW, null],
      ],
      null,
    ],
    [
      'the soonest reset wins',
      [
        [NOW, 30],
        [NOW, null],
        [NOW, 12.2],
      ],
      12_200,
    ],
    [
      'each reset counts from the end of its own attempt',
      [
        [NOW - 5_000, 10],
        [NOW, 8],
      ],
      5_000,
    ],
    ['a reset already past gives 0', [[NOW - 3_000, 1]], 0],
    [
      'a long reset is kept as is',
      [
        [NOW, 3600],
        [NOW, 59],
      ],
      59_000,
    ],
  ])('%s', (_name, attempts, expected) => {
    expect(
      exhaustionRetryAfterMs(
        attempts.map(([endedAt, retryAfterSeconds]) => ({ endedAt, retryAfterSeconds })),
        NOW,
      ),
    ).toBe(expected);
  });
});

describe('explainExhaustion', () => {
  it('an all-429 exhaustion is accounts_rate_limited with the soonest reset', () => {
    const attempts = [
      { endedAt: 1_000, retryAfterSeconds: 120 },
      { endedAt: 1_500, retryAfterSeconds: 30 },
    ];
    expect(explainExhaustion({ skips: ['rate_limited', 'rate_limited'], attempts }, 2_000)).toEqual({
      code: 'accounts_rate_limited',
      message: 'all eligible codex image accounts failed for this request (2 rate_limited)',
      retryAfterMs: 29_500,
    });
  });

  it('without any announced reset the wait is left to the code', () => {
    expect(explainExhaustion({ skips: ['concurrency_blocked'], attempts: [] }, 0)).toMatchObject({ code: 'accounts_busy', retryAfterMs: null });
  });
});
