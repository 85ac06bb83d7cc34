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
    ['every account needs re-import', plan(['needs_reimport', 'needs_reimport']), 'accounts_need_reimport', 503],
    ['re-import beside an expired token', plan(['needs_reimport', 'token_expired']), 'no_usable_accounts', 503],
    ['only expired tokens', plan(['token_expired']), 'no_usable_accounts', 503],
  ])('%s → %s', (_name, input, code, status) => {
    const why = explainEmptyPlan(input, NOW);
    expect(why.code).toBe(code);
    expect(ERRORS[why.code].status).toBe(status);
  });

  it('says until when (ISO) and sets retry-after in whole seconds, rounded up', () => {
    const why = explainEmptyPlan(plan(['cooling_down', 'needs_reimport'], NOW + 90_500), NOW);
    expect(why.message).toBe(
      'every usable codex image account is cooling down until 2026-11-26T12:01:30.500Z (1 cooling down, 1 needs re-import (refresh token refused))',
    );
    expect(why.headers).toEqual({ 'retry-after': '91' });
  });

  it('never asks to retry in less than a second', () => {
    expect(explainEmptyPlan(plan(['cooling_down'], NOW + 10), NOW).headers).toEqual({ 'retry-after': '1' });
    expect(explainEmptyPlan(plan(['cooling_down'], NOW), NOW).headers).toEqual({ 'retry-after': '1' });
  });

  it('counts the re-import reasons and keeps the older message for other cases', () => {
    expect(explainEmptyPlan(plan(['needs_reimport', 'needs_reimport']), NOW).message).toBe(
      'every codex image account needs a new auth.json import (2 needs re-import (refresh token refused))',
    );
    expect(explainEmptyPlan(plan(['token_expired', 'free_plan', 'token_expired']), NOW)).toEqual({
      code: 'no_usable_accounts',
      message: 'no codex image account can be used right now (token_expired, free_plan)',
      headers: {},
    });
  });
});
