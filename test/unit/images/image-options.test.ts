import { FIELD_POLICY, LEGACY_SIZE_MAP, POLICY_FIELDS, REQUEST_FORMS, ruleFor, type FieldRule } from '../../../src/images/field-policy.js';
import { describe, expect, it } from 'vitest';
import { MAX_SIZE_PIXELS, MAX_SIZE_SIDE_PX, MIN_SIZE_PIXELS, SIZE_MULTIPLE_PX, isValidImageSize } from '../../../src/images/image-options.js';

describe('isValidImageSize', () => {
  it.each([
    'auto',
    '1024x1024',
    '1536x1024',
    '1024x1536',
    '2048x1152',
    '3840x2160', // the maximum: exactly MAX_SIZE_PIXELS
    '2160x3840',
    '1024x640', // exactly MIN_SIZE_PIXELS
    '2304x768', // exactly 3:1
    '768x2304', // exactly 1:3
    '3840x1280', // longest side at the limit and exactly 3:1
  ])('accepts %s', (size) => expect(isValidImageSize(size)).toBe(true));

  it.each([
    ['1000x1000', 'not a multiple of 16'],
    ['1024x1000', 'height not a multiple of 16'],
    ['3856x1024', 'longest side over 3840'],
    ['3840x1024', 'ratio over 3:1'],
    ['1024x3840', 'ratio over 1:3'],
    ['2320x768', 'just over 3:1'],
    ['512x512', 'too few pixels'],
    ['1008x640', 'one step under the pixel minimum'],
    ['3840x2176', 'over the pixel maximum'],
    ['01024x1024', 'leading zero'],
    ['1024x01024', 'leading zero on height'],
    ['1024X1024', 'upper-case X'],
    [' 1024x1024', 'leading space'],
    ['1024x1024 ', 'trailing space'],
    ['+1024x1024', 'sign'],
    ['-1024x1024', 'negative'],
    ['1024.0x1024', 'decimal point'],
    ['1024x', 'missing height'],
    ['x1024', 'missing width'],
    ['1024*1024', 'wrong separator'],
    ['Auto', 'case-sensitive auto'],
    ['', 'empty'],
    ['0x0', 'zero'],
    ['١٠٢٤x١٠٢٤', 'non-ASCII digits'],
    ['99999999999999999999x1024', 'huge number'],
  ])('rejects %j (%s)', (size) => expect(isValidImageSize(size)).toBe(false));

  it('bounds agree with each other: the largest allowed size is MAX_SIDE x (MAX_PIXELS / MAX_SIDE)', () => {
    const shortSide = MAX_SIZE_PIXELS / MAX_SIZE_SIDE_PX;
    expect(shortSide % SIZE_MULTIPLE_PX).toBe(0);
    expect(isValidImageSize(`${MAX_SIZE_SIDE_PX}x${shortSide}`)).toBe(true);
    expect(MIN_SIZE_PIXELS).toBe(1024 * 640);
  });
});

describe('FIELD_POLICY', () => {
  it('every enum row has distinct, non-empty lower-case values, and no map key is already an allowed value', () => {
    for (const name of POLICY_FIELDS) {
      const { value, forms } = FIELD_POLICY[name];
      if (value.kind === 'enum') {
        expect(new Set(value.values).size, name).toBe(value.values.length);
        for (const v of value.values) expect(v, name).toMatch(/^[a-z0-9_]+$/);
      }
      for (const form of REQUEST_FORMS) {
        const rule: FieldRule = forms[form];
        if (rule.action !== 'map') continue;
        for (const [from, to] of Object.entries(rule.values)) {
          if (value.kind === 'enum') {
            expect(value.values, `${name}: ${from}`).not.toContain(from);
            expect(value.values, `${name}: ${from} → ${to}`).toContain(to);
          }
          if (value.kind === 'size') {
            expect(isValidImageSize(from), from).toBe(false);
            expect(isValidImageSize(to), to).toBe(true);
          }
        }
      }
    }
  });

  it('integer ranges are ordered', () => {
    for (const name of POLICY_FIELDS) {
      const { value } = FIELD_POLICY[name];
      if (value.kind === 'integer') expect(value.min, name).toBeLessThan(value.max);
    }
  });

  it('a legacy size maps to a supported size of the same aspect ratio', () => {
    for (const [from, to] of Object.entries(LEGACY_SIZE_MAP)) {
      const [fw, fh] = from.split('x').map(Number) as [number, number];
      const [tw, th] = to.split('x').map(Number) as [number, number];
      expect(fw / fh, from).toBeCloseTo(tw / th);
    }
  });

  it('edits have images (JSON) or image files (multipart) and a mask; generations have neither', () => {
    expect(ruleFor('images', 'editsJson').action).toBe('forward');
    expect(ruleFor('image', 'editsMultipart').action).toBe('forward');
    for (const name of ['images', 'image', 'mask', 'markup']) expect(ruleFor(name, 'generations').action, name).toBe('absent');
    expect(ruleFor('__proto__', 'generations').action).toBe('absent');
    expect(ruleFor('no_such_field', 'editsJson').action).toBe('absent');
  });
});
