import type { ErrorCode } from '../errors/codes.js';
import type { CandidatePlan, ExclusionReason } from './plan-candidates.js';

/** Why a request could not even start: the error to answer with, in words, and its headers. */
export interface EmptyPlanExplanation {
  code: ErrorCode;
  message: string;
  /** `retry-after` (seconds) when the accounts come back at a known time. */
  headers: Record<string, string>;
}

/** Words for each exclusion reason (message detail; never an account name or secret). */
const REASON_WORDS = {
  token_expired: 'access token expired',
  free_plan: 'free plan (no image tool)',
  credentials_unreadable: 'credentials unreadable',
  needs_reimport: 'needs re-import (refresh token refused)',
  cooling_down: 'cooling down',
} as const satisfies Record<ExclusionReason, string>;

function countReasons(reasons: readonly ExclusionReason[]): string {
  const counts = new Map<ExclusionReason, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${n} ${REASON_WORDS[r]}`).join(', ');
}

/**
 * Explains a plan without candidates (pure): no image-enabled account at all → `no_image_accounts`;
 * some account only cooling down → `accounts_cooling_down` until the earliest end (ISO time in the
 * message, `retry-after` in whole seconds, at least 1); every account needing re-import →
 * `accounts_need_reimport`; otherwise `no_usable_accounts`. Each message counts the reasons.
 */
export function explainEmptyPlan(plan: Pick<CandidatePlan, 'imageEnabledCount' | 'excluded' | 'cooldownUntilMs'>, nowMs: number): EmptyPlanExplanation {
  if (plan.imageEnabledCount === 0) {
    return { code: 'no_image_accounts', message: 'no codex image-enabled accounts are available', headers: {} };
  }
  const detail = countReasons(plan.excluded);
  if (plan.cooldownUntilMs !== null) {
    const retryAfterSeconds = Math.max(1, Math.ceil((plan.cooldownUntilMs - nowMs) / 1000));
    const until = new Date(plan.cooldownUntilMs).toISOString();
    return {
      code: 'accounts_cooling_down',
      message: `every usable codex image account is cooling down until ${until} (${detail})`,
      headers: { 'retry-after': String(retryAfterSeconds) },
    };
  }
  if (plan.excluded.length > 0 && plan.excluded.every((r) => r === 'needs_reimport')) {
    return { code: 'accounts_need_reimport', message: `every codex image account needs a new auth.json import (${detail})`, headers: {} };
  }
  return { code: 'no_usable_accounts', message: `no codex image account can be used right now (${[...new Set(plan.excluded)].join(', ')})`, headers: {} };
}
