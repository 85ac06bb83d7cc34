import type { FieldLimit } from '../../src/config/field-limits.js';

/**
 * The ways a limit's range may be spelled out in code, comments, hints or prose (`1..1024`,
 * `1–1024`, `1 to 1024`, `between 1 and 1024`), never matching inside a longer number. Tests use it
 * to find places that repeat a FIELD_LIMITS range instead of deriving it.
 */
export function buildRangeSpellings(limit: Pick<FieldLimit, 'min' | 'max'>): RegExp[] {
  return [`${limit.min}\\.\\.${limit.max}`, `${limit.min}–${limit.max}`, `${limit.min} to ${limit.max}\\b`, `between ${limit.min} and ${limit.max}\\b`].map(
    (text) => new RegExp(`(?<![\\d.])${text}(?![\\d])`),
  );
}
