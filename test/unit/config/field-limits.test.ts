import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildLimitMessage, FIELD_LIMITS, formatLimitRange, isWithinLimit, type FieldLimit } from '../../../src/config/field-limits.js';
import { buildRangeSpellings } from '../../support/limit-spellings.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRIES = Object.entries(FIELD_LIMITS) as Array<[string, FieldLimit]>;
const BOUNDED = ENTRIES.filter(([, limit]) => limit.max !== Number.MAX_SAFE_INTEGER);

/** Every .ts/.tsx file under `dir`, recursively. */
function listSourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listSourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

describe('FIELD_LIMITS integrity', () => {
  it.each(ENTRIES)('%s: min ≤ max, both safe integers; a default lies within them', (_name, limit) => {
    expect(Number.isSafeInteger(limit.min) && Number.isSafeInteger(limit.max)).toBe(true);
    expect(limit.min).toBeLessThanOrEqual(limit.max);
    if (limit.default !== null) expect(isWithinLimit(limit.default, limit)).toBe(true);
  });

  it.each(ENTRIES)('%s: snake_case wire names, a scope and a description; a nullable limit has no default', (_name, limit) => {
    expect(limit.fields.length).toBeGreaterThan(0);
    for (const field of limit.fields) expect(field).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(limit.scope).not.toBe('');
    expect(limit.description).not.toBe('');
    if (limit.nullable) expect(limit.default).toBeNull();
  });

  it('imports nothing, since the web console bundles it', () => {
    expect(readFileSync(join(ROOT, 'src/config/field-limits.ts'), 'utf8')).not.toMatch(/^\s*(import|export .* from)\b/m);
  });
});

describe('formatLimitRange, isWithinLimit and buildLimitMessage', () => {
  const range = { ...FIELD_LIMITS.keyMaxConcurrency, min: 1, max: 1024 };
  const open = { ...FIELD_LIMITS.keyQuotaTokens, min: 0, max: Number.MAX_SAFE_INTEGER };

  it('write a bounded range as min..max and an unbounded one as ≥ min', () => {
    expect(formatLimitRange(range)).toBe('1..1024');
    expect(formatLimitRange(open)).toBe('≥ 0');
  });

  it.each<[unknown, boolean]>([
    [1, true],
    [1024, true],
    [0, false],
    [1025, false],
    [2.5, false],
    ['2', false],
    [null, false],
    [Number.NaN, false],
    [2 ** 53, false],
  ])('isWithinLimit(%j) on 1..1024 is %s', (value, expected) => expect(isWithinLimit(value, range)).toBe(expected));

  it('say the same sentence for every bounded integer, and "non-negative" without an upper bound', () => {
    expect(buildLimitMessage('max_concurrency', range)).toBe('max_concurrency must be an integer between 1 and 1024');
    expect(buildLimitMessage('quota_tokens', open)).toBe('quota_tokens must be a non-negative integer');
    expect(buildLimitMessage('x', { ...open, min: 5 })).toBe('x must be an integer of at least 5');
  });
});

describe('no other source file spells out a limit', () => {
  const files = [...listSourceFiles(join(ROOT, 'src')), ...listSourceFiles(join(ROOT, 'web/src'))].filter(
    (path) => !path.endsWith(join('config', 'field-limits.ts')),
  );

  it.each(BOUNDED)('%s: its range appears only in FIELD_LIMITS', (_name, limit) => {
    const spellings = buildRangeSpellings(limit);
    const hits = files.flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line, i) => (spellings.some((re) => re.test(line)) ? [`${relative(ROOT, path)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });

  it.each<[string, boolean]>([
    ['most requests (1..1024)', true],
    ['must be an integer between 1 and 1024', true],
    ['hint="1–1024"', true],
    ['1 to 1024 characters', true],
    ['11..1024', false],
    ['1..10240', false],
    ['between 1 and 10245', false],
  ])('the scan finds %j: %s', (line, expected) => {
    expect(buildRangeSpellings({ ...FIELD_LIMITS.keyMaxConcurrency, min: 1, max: 1024 }).some((re) => re.test(line))).toBe(expected);
  });
});
