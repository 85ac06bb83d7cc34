import { describe, expect, it } from 'vitest';
import type { ExclusionReason } from '../../../src/dispatch/plan-candidates.js';
import { explainEmptyPlan } from '../../../src/dispatch/plan-exhaustion.js';
import { ERRORS } from '../../../src/errors/codes.js';

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const plan = (excluded: ExclusionReason[], cooldownUntilMs: number | null = null, imageEnabledCount = excluded.length) => ({
  imageEnabledCount,
  excluded,
  cooldownUntilMs,
});

describe('explainEmptyPlan', () => {
  it.each<[string, ReturnType<typeof plan>, string, number]>([
    ['no image-enabled account', plan([], null, 0), 'no_image_accounts', 503],
    ['every account cooling down', plan(['cooling_down', 'cooling_down'], NOW + 90_500), 'accounts_cooling_down', 503],
    ['cooling down beside one needing re-import', plan(['needs_reimport', 'cooling_down'], NOW + 1_000), 'accounts_cooling_down', 503],
    ['every usable account rate-limited upstream', plan(['rate_limited', 'rate_limited'], NOW + 30_000), 'accounts_rate_limited', 429],
    ['rate-limited beside one needing re-import', plan(['needs_reimport', 'rate_limited'], NOW + 30_000), 'accounts_rate_limited', 429],
    ['rate-limited beside one cooling down after failures', plan(['rate_limited', 'cooling_down'], NOW + 2_000), 'accounts_cooling_down', 503],
    ['every account needs re-import', plan(['needs_reimport', 'needs_reimport']), 'accounts_need_reimport', 503],
    ['re-import beside an expired token', plan(['needs_reimport', 'token_expired']), 'no_usable_accounts', 503],
    ['only expired tokens', plan(['token_expired']), 'no_usable_accounts', 503],
  ])('%s → %s', (_name, input, code, status) => {
    const why = explainEmptyPlan(input, NOW);
    expect(why.code).toBe(code);
    expect(ERRORS[why.code].status).toBe(status);
  });

  it('no image-enabled account names the command that fixes it', () => {
    expect(explainEmptyPlan(plan([], null, 0), NOW).message).toMatch(/import one with `codex-image-gateway accounts import <auth\.json>`/);
  });

  it('says until when (ISO) and how long to wait, in ms', () => {
    const why = explainEmptyPlan(plan(['cooling_down', 'needs_reimport'], NOW + 90_500), NOW);
    expect(why.message).toBe(
      'every usable codex image account is cooling down until 2026-11-26T12:01:30.500Z (1 cooling down, 1 needs re-import (refresh token refused))',
    );
    expect(why.retryAfterMs).toBe(90_500);
  });

  it('a rate-limited pool says so, with the soonest end', () => {
    expect(explainEmptyPlan(plan(['rate_limited', 'free_plan'], NOW + 42_000), NOW)).toEqual({
      code: 'accounts_rate_limited',
      message:
        'every usable codex image account is rate-limited upstream until 2026-11-26T12:00:42.000Z (1 rate-limited upstream, 1 free plan (no image tool))',
      retryAfterMs: 42_000,
    });
  });

  it('never asks for a negative wait', () => {
    expect(explainEmptyPlan(plan(['cooling_down'], NOW - 10), NOW).retryAfterMs).toBe(0);
  });

  it('leaves the wait to the code when nothing ends at a known time', () => {
    expect(explainEmptyPlan(plan([], null, 0), NOW).retryAfterMs).toBeNull();
    expect(explainEmptyPlan(plan(['needs_reimport']), NOW).retryAfterMs).toBeNull();
  });

  it('counts the re-import reasons and keeps the older message for other cases', () => {
    expect(explainEmptyPlan(plan(['needs_reimport', 'needs_reimport']), NOW).message).toBe(
      'every codex image account needs a new auth.json import (2 needs re-import (refresh token refused))',
    );
    expect(explainEmptyPlan(plan(['token_expired', 'free_plan', 'token_expired']), NOW)).toEqual({
      code: 'no_usable_accounts',
      message: 'no codex image account can be used right now (token_expired, free_plan)',
      retryAfterMs: null,
    });
  });
});
