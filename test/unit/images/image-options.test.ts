import { describe, expect, it } from 'vitest';
import {
  IMAGE_OPTION_VALUES,
  INTEGER_OPTION_RANGES,
  MAX_SIZE_PIXELS,
  MAX_SIZE_SIDE_PX,
  MIN_SIZE_PIXELS,
  REQUEST_FIELDS,
  SIZE_MULTIPLE_PX,
  isValidImageSize,
} from '../../../src/images/image-options.js';

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

describe('option tables', () => {
  it('every enumerated option has distinct, non-empty lower-case values', () => {
    for (const [name, values] of Object.entries(IMAGE_OPTION_VALUES)) {
      expect(new Set(values).size, name).toBe(values.length);
      for (const v of values) expect(v, name).toMatch(/^[a-z0-9_]+$/);
    }
  });

  it('integer ranges are ordered', () => {
    for (const [name, { min, max }] of Object.entries(INTEGER_OPTION_RANGES)) expect(min, name).toBeLessThan(max);
  });

  it('edits accept every generation field plus images, mask and input_fidelity; multipart text excludes images and mask', () => {
    const gen = new Set<string>(REQUEST_FIELDS.generations);
    expect(REQUEST_FIELDS.edits.filter((f) => !gen.has(f)).sort()).toEqual(['images', 'input_fidelity', 'mask']);
    expect(REQUEST_FIELDS.editsMultipartText.filter((f) => !gen.has(f))).toEqual(['input_fidelity']);
    for (const option of Object.keys(IMAGE_OPTION_VALUES)) expect(REQUEST_FIELDS.edits, option).toContain(option);
    for (const option of Object.keys(INTEGER_OPTION_RANGES)) expect(REQUEST_FIELDS.generations, option).toContain(option);
  });
});
