import type { ErrorCode } from '../errors/codes.js';
import type { CandidatePlan, ExclusionReason } from './plan-candidates.js';

/** Why a request could not even start: the error to answer with, in words, and how long to wait. */
export interface EmptyPlanExplanation {
  code: ErrorCode;
  message: string;
  /** ms until the soonest cooldown ends, when the accounts come back at a known time; else null (the code's default). */
  retryAfterMs: number | null;
}

/** Words for each exclusion reason (message detail; never an account name or secret). */
const REASON_WORDS = {
  token_expired: 'access token expired',
  free_plan: 'free plan (no image tool)',
  credentials_unreadable: 'credentials unreadable',
  needs_reimport: 'needs re-import (refresh token refused)',
  cooling_down: 'cooling down',
  rate_limited: 'rate-limited upstream',
} as const satisfies Record<ExclusionReason, string>;

function countReasons(reasons: readonly ExclusionReason[]): string {
  const counts = new Map<ExclusionReason, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${n} ${REASON_WORDS[r]}`).join(', ');
}

/** What a key with no image-enabled account hears: the fix is an import, so the message names the command. */
export const NO_IMAGE_ACCOUNTS_MESSAGE =
  'no codex image-enabled accounts are available: import one with `codex-image-gateway accounts import <auth.json>` (or turn images on for an account: `accounts update <account> --image on`)';

/**
 * Explains a plan without candidates (pure): no image-enabled account at all → `no_image_accounts`;
 * some account only cooling down → until the earliest end (ISO time in the message, `retryAfterMs`
 * from `nowMs`): `accounts_rate_limited` (429) when every cooling-down account sits out an upstream
 * 429, so clients see the same rate limit the first request saw, else `accounts_cooling_down` (503);
 * every account needing re-import → `accounts_need_reimport`; otherwise `no_usable_accounts`.
 * Each message counts the reasons.
 */
export function explainEmptyPlan(plan: Pick<CandidatePlan, 'imageEnabledCount' | 'excluded' | 'cooldownUntilMs'>, nowMs: number): EmptyPlanExplanation {
  if (plan.imageEnabledCount === 0) {
    return { code: 'no_image_accounts', message: NO_IMAGE_ACCOUNTS_MESSAGE, retryAfterMs: null };
  }
  const detail = countReasons(plan.excluded);
  if (plan.cooldownUntilMs !== null) {
    const until = new Date(plan.cooldownUntilMs).toISOString();
    const retryAfterMs = Math.max(0, plan.cooldownUntilMs - nowMs);
    if (!plan.excluded.includes('cooling_down')) {
      return { code: 'accounts_rate_limited', message: `every usable codex image account is rate-limited upstream until ${until} (${detail})`, retryAfterMs };
    }
    return { code: 'accounts_cooling_down', message: `every usable codex image account is cooling down until ${until} (${detail})`, retryAfterMs };
  }
  if (plan.excluded.length > 0 && plan.excluded.every((r) => r === 'needs_reimport')) {
    return { code: 'accounts_need_reimport', message: `every codex image account needs a new auth.json import (${detail})`, retryAfterMs: null };
  }
  return {
    code: 'no_usable_accounts',
    message: `no codex image account can be used right now (${[...new Set(plan.excluded)].join(', ')})`,
    retryAfterMs: null,
  };
}
