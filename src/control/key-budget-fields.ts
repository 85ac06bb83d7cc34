import { FIELD_LIMITS, formatLimitRange } from '../config/field-limits.js';
import { GatewayError } from '../errors/codes.js';
import { QUOTA_PERIODS } from '../limits/budget-period.js';
import { MICROS_PER_USD } from '../pricing/price-table.js';
import type { KeyRecord, PeriodUsage } from '../store/types.js';
import type { KeyBudgetView, KeyCreateInput } from './control-api.js';
import { parseChoice, parseNullableIntegerInRange } from './field-parsers.js';

/** A key's budget fields as the store keeps them (cost in millionths of a dollar). */
export type KeyBudgetChanges = Partial<Pick<KeyRecord, 'quotaPeriod' | 'quotaImages' | 'quotaCostMicros'>>;

/** Dollars (as a number) from millionths of a dollar. */
export const toUsd = (micros: number): number => micros / MICROS_PER_USD;

/** Wire names of the budget fields a key input may carry. */
type BudgetInput = Pick<KeyCreateInput, 'quotaPeriod' | 'quotaImages' | 'quotaCostUsd'>;

/** The budget fields of a key input, checked (period, images limit, cost limit in dollars → millionths). */
export function parseKeyBudgetChanges(raw: { [K in keyof BudgetInput]?: unknown }, params: { readonly [K in keyof BudgetInput]-?: string }): KeyBudgetChanges {
  const changes: KeyBudgetChanges = {};
  if (raw.quotaPeriod !== undefined) changes.quotaPeriod = parseChoice(raw.quotaPeriod, QUOTA_PERIODS, params.quotaPeriod);
  if (raw.quotaImages !== undefined) changes.quotaImages = parseNullableIntegerInRange(raw.quotaImages, FIELD_LIMITS.keyQuotaImages, params.quotaImages);
  if (raw.quotaCostUsd !== undefined) changes.quotaCostMicros = parseNullableUsd(raw.quotaCostUsd, params.quotaCostUsd);
  return changes;
}

/** Null or dollars within FIELD_LIMITS.keyQuotaCostUsd with at most 6 decimals, as millionths. */
function parseNullableUsd(value: unknown, param: string): number | null {
  if (value === null) return null;
  const limit = FIELD_LIMITS.keyQuotaCostUsd;
  const micros = typeof value === 'number' ? Math.round(value * MICROS_PER_USD) : Number.NaN;
  if (
    !Number.isFinite(value) ||
    (value as number) < limit.min ||
    (value as number) > limit.max ||
    Math.abs(micros - (value as number) * MICROS_PER_USD) > 1e-3
  ) {
    throw new GatewayError('invalid_request', `${param} must be null or US dollars in ${formatLimitRange(limit)} with at most 6 decimals`, param);
  }
  return micros;
}

/** What operators see of a key's budget: its limits, and its usage in the current period. */
export function buildKeyBudgetView(key: KeyRecord, usage: PeriodUsage): KeyBudgetView {
  return {
    quotaPeriod: key.quotaPeriod,
    quotaImages: key.quotaImages,
    quotaCostUsd: key.quotaCostMicros === null ? null : toUsd(key.quotaCostMicros),
    periodUsage: {
      startsAt: usage.periodStartMs,
      endsAt: usage.periodEndMs,
      images: usage.used.images,
      tokens: usage.used.tokens,
      estimatedCostUsd: toUsd(usage.used.costMicros),
    },
    usageResetAt: key.usageReset?.at ?? null,
  };
}
