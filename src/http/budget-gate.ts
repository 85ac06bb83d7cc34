import { GatewayError } from '../errors/codes.js';
import { findPeriodSpan, type PeriodSpan } from '../limits/budget-period.js';
import {
  addAmounts,
  BUDGET_MEASURES,
  buildKeyBudget,
  hasQuota,
  judgeBudget,
  ZERO_AMOUNTS,
  type BudgetAmounts,
  type BudgetHold,
  type BudgetRefusal,
  type KeyBudget,
} from '../limits/key-budget.js';
import type { ImageRequest } from '../images/image-request.js';
import { estimateRequestReservation } from '../pricing/cost-estimate.js';
import { formatUsdMicros } from '../pricing/format-usd.js';
import type { BudgetTriple } from '../coord/coord-types.js';
import type { KeyRecord, Snapshot } from '../store/types.js';
import type { GatewayDeps } from './gateway-deps.js';

/** A key's budget, the period it counts in now, and what is used in it (reservations included). */
interface BudgetStanding {
  budget: KeyBudget;
  span: PeriodSpan;
  used: BudgetAmounts;
}

/**
 * Where the key stands against its budget by this process's view: the snapshot's stored usage (when
 * it counted the current period; a period that began since starts from nothing), plus this
 * process's usage the snapshot does not hold yet, plus (`withHolds`) this process's reservations.
 * Null for a key without limits.
 */
function findStanding(key: KeyRecord, snapshot: Snapshot, deps: GatewayDeps, withHolds = true): BudgetStanding | null {
  if (!hasQuota(key)) return null;
  const budget = buildKeyBudget(key);
  const span = findPeriodSpan(budget.period, deps.now(), snapshot.settings.budgetTimeZone);
  const stored = snapshot.periodUsage.get(key.id);
  const used = { ...(stored && stored.periodStartMs === span.startMs ? stored.used : ZERO_AMOUNTS) };
  addAmounts(used, deps.usage.pendingUsage(key.id, Math.max(snapshot.loadedAt, span.startMs)));
  if (withHolds) addAmounts(used, deps.budgets.reservedFor(key.id));
  return { budget, span, used };
}

/**
 * Refuses a key whose budget is used up, before its body is read (429 `quota_exceeded`; with a
 * period, `retry-after` at the period's end). Cheap and local: no estimate of the request yet, no
 * Redis call (the reservation that follows asks the shared budget).
 */
export function checkKeyBudget(key: KeyRecord, snapshot: Snapshot, deps: GatewayDeps): void {
  const standing = findStanding(key, snapshot, deps);
  if (!standing) return;
  const refusal = judgeBudget(standing.budget, standing.used);
  if (refusal) throw buildQuotaError(refusal, standing, deps.now());
}

/** How long a lifetime budget's shared state is kept after its last use (ms); the database has it all by then. */
const LIFETIME_STATE_KEEP_MS = 7 * 86_400_000;
/** How long a period's shared state outlives the period (ms): a clock a little off still finds it. */
const PERIOD_STATE_GRACE_MS = 86_400_000;

/**
 * Reserves a request's estimated usage against its key's budget until the request is recorded, or
 * refuses it when the estimate would pass a limit: requests admitted together cannot all spend the
 * same remainder. With REDIS_URL the reservation is made in the budget every instance shares (one
 * script call), and also held locally (this process's own checks see it); without Redis, or while
 * it cannot answer, in this process alone. Null for a key without limits (nothing to hold).
 */
export async function reserveKeyBudget(key: KeyRecord, snapshot: Snapshot, deps: GatewayDeps, request: ImageRequest): Promise<BudgetHold | null> {
  const view = findStanding(key, snapshot, deps, false);
  if (!view) return null;
  const estimate = estimateBudgetAsk(request, snapshot);
  const shared = deps.coordination;
  if (shared) {
    const state = { keyId: key.id, periodStartMs: view.span.startMs, resetAtMs: key.usageReset?.at ?? 0 };
    const now = deps.now();
    const keepMs = view.span.endMs === null ? LIFETIME_STATE_KEEP_MS : view.span.endMs - now + PERIOD_STATE_GRACE_MS;
    const verdict = await shared.reserveBudget({
      ...state,
      keepMs,
      seed: toTriple(view.used),
      limits: [view.budget.limits.images, view.budget.limits.tokens, view.budget.limits.costMicros],
      ask: toTriple(estimate),
    });
    if (verdict?.kind === 'refused') {
      const measure = BUDGET_MEASURES[verdict.measure];
      throw buildQuotaError({ measure, used: verdict.used, limit: view.budget.limits[measure] ?? 0 }, view, now, estimate);
    }
    if (verdict?.kind === 'held') {
      const local = deps.budgets.hold(key.id, estimate);
      let released = false;
      return {
        release: (used) => {
          if (released) return;
          released = true;
          local.release();
          shared.settleBudget(state, verdict.holdId, used ? toTriple(used) : [0, 0, 0]);
        },
      };
    }
  }
  addAmounts(view.used, deps.budgets.reservedFor(key.id));
  const refusal = judgeBudget(view.budget, view.used, estimate);
  if (refusal) throw buildQuotaError(refusal, view, deps.now(), estimate);
  return deps.budgets.hold(key.id, estimate);
}

const toTriple = (a: BudgetAmounts): BudgetTriple => [a.images, a.tokens, a.costMicros];

/** How each measure is named in a refusal, with its amounts as operators set them. */
const MEASURE_WORDING = {
  images: { noun: 'images', show: (n: number) => String(n) },
  tokens: { noun: 'tokens', show: (n: number) => String(n) },
  costMicros: { noun: 'of estimated cost', show: formatUsdMicros },
} as const;

/** The period's word in a message ("today" reads wrong in an operator's zone, so the period's own name). */
const PERIOD_WORDS = { none: '', day: ' this day', week: ' this week', month: ' this month' } as const;

/**
 * 429 `quota_exceeded`: what was used of which limit, and, for a periodic budget, when it resets
 * (also as `retry-after`, so a client can wait for it; `x-should-retry: false` keeps SDKs from
 * retrying at once).
 */
function buildQuotaError(refusal: BudgetRefusal, standing: BudgetStanding, nowMs: number, estimate?: BudgetAmounts): GatewayError {
  const words = MEASURE_WORDING[refusal.measure];
  const period = PERIOD_WORDS[standing.budget.period];
  const ask =
    estimate && estimate[refusal.measure] > 0 && refusal.used < refusal.limit ? `; this request needs about ${words.show(estimate[refusal.measure])} more` : '';
  const resets = standing.span.endMs === null ? '' : `; the budget resets at ${new Date(standing.span.endMs).toISOString()}`;
  const message = `quota_exceeded: this key has used ${words.show(refusal.used)} of its ${words.show(refusal.limit)} ${words.noun}${period}${ask}${resets}`;
  return new GatewayError('quota_exceeded', message, null, standing.span.endMs === null ? {} : { retryAfterMs: Math.max(1, standing.span.endMs - nowMs) });
}

/**
 * What a request is expected to spend, reserved at admission: its images, its prompt's tokens and
 * the output tokens its images should take, and their cost by the price table (see
 * estimateRequestReservation; quality `auto` counts as `high`, so the estimate errs high).
 */
function estimateBudgetAsk(request: ImageRequest, snapshot: Snapshot): BudgetAmounts {
  return estimateRequestReservation(snapshot.settings.priceTable, {
    model: request.model,
    quality: request.options.quality ?? null,
    size: request.options.size ?? null,
    n: request.n,
    promptChars: request.prompt.length,
  });
}
