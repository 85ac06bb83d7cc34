import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../src/errors/codes.js';
import {
  ERROR_CLASSES,
  EXACT_STATUSES,
  STATUS_CLASSES,
  resolveEndpointLabel,
  resolveErrorClassLabel,
  resolveStatusClass,
  resolveStatusLabel,
} from '../../../src/observe/metric-labels.js';

describe('label tables', () => {
  it('ERROR_CLASSES holds every error code, none and other, without duplicates', () => {
    for (const code of Object.keys(ERRORS)) expect(ERROR_CLASSES, code).toContain(code);
    expect(ERROR_CLASSES).toContain('none');
    expect(ERROR_CLASSES).toContain('other');
    expect(new Set(ERROR_CLASSES).size).toBe(ERROR_CLASSES.length);
  });

  it('label values are short snake_case words (safe as Prometheus labels)', () => {
    for (const v of ERROR_CLASSES) expect(v).toMatch(/^[a-z][a-z0-9_]{0,39}$/);
  });

  it('every gateway error status is kept exact', () => {
    for (const { status } of Object.values(ERRORS)) expect(EXACT_STATUSES).toContain(status);
  });

  it('every status resolves to a value from a finite set', () => {
    const seen = new Set<string>();
    for (let s = -5; s < 1_100; s++) seen.add(resolveStatusLabel(s));
    for (const s of [Number.NaN, Infinity, 200.5]) seen.add(resolveStatusLabel(s));
    expect([...seen].sort()).toEqual([...new Set([...EXACT_STATUSES.map(String), ...STATUS_CLASSES])].sort());
  });
});

describe('resolvers', () => {
  it.each([
    [null, 'none'],
    [undefined, 'none'],
    ['auth', 'auth'],
    ['invalid_api_key', 'invalid_api_key'],
    ['', 'other'],
    ['AUTH', 'other'],
    ['auth ', 'other'],
    ['__proto__', 'other'],
    ['toString', 'other'],
  ])('resolveErrorClassLabel(%j) → %s', (input, label) => expect(resolveErrorClassLabel(input)).toBe(label));

  it.each([
    [100, '1xx'],
    [204, '2xx'],
    [302, '3xx'],
    [499, '4xx'],
    [500, '5xx'],
    [599, '5xx'],
    [600, 'other'],
    [99, 'other'],
    [-200, 'other'],
  ])('resolveStatusClass(%s) → %s', (status, cls) => expect(resolveStatusClass(status)).toBe(cls));

  it.each([
    ['generations', 'generations'],
    ['edits', 'edits'],
    ['Edits', 'other'],
    ['/v1/images/edits', 'other'],
  ])('resolveEndpointLabel(%s) → %s', (endpoint, label) => expect(resolveEndpointLabel(endpoint)).toBe(label));
});

describe('failure classes', () => {
  it('every class the request log can carry is its own metric label, never "other"', async () => {
    const { FAILURE_CLASSES } = await import('../../../src/errors/failure-classes.js');
    const { resolveErrorClassLabel } = await import('../../../src/observe/metric-labels.js');
    for (const cls of FAILURE_CLASSES) expect(resolveErrorClassLabel(cls), cls).toBe(cls);
    for (const code of Object.keys(ERRORS)) expect(resolveErrorClassLabel(code), code).toBe(code);
  });
});
