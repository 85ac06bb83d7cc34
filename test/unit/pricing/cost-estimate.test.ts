import { describe, expect, it } from 'vitest';
import {
  estimateCostMicros,
  estimateRequestReservation,
  findModelPrice,
  OUTPUT_TOKENS_PER_IMAGE,
  resolvePriceQuality,
  resolvePriceSize,
  type CostInput,
} from '../../../src/pricing/cost-estimate.js';
import { formatUsdMicros } from '../../../src/pricing/format-usd.js';
import { DEFAULT_PRICE_TABLE, type PriceTable } from '../../../src/pricing/price-table.js';

const IMAGE = {
  low: { '1024x1024': 0.011, '1024x1536': 0.016, '1536x1024': 0.015 },
  medium: { '1024x1024': 0.042, '1024x1536': 0.063, '1536x1024': 0.062 },
  high: { '1024x1024': 0.167, '1024x1536': 0.25, '1536x1024': 0.24 },
};
const TABLE: PriceTable = [
  { model: 'both', image: IMAGE, tokens: { text: 5, image: 10, output: 40 } },
  { model: 'per-image', image: IMAGE },
  { model: 'per-token', tokens: { text: 5, image: 8, output: 30 } },
];

const input = (overrides: Partial<CostInput>): CostInput => ({ model: 'both', quality: 'medium', size: '1024x1024', images: 1, usage: null, ...overrides });
const usage = (inputTokens: number | null, outputTokens: number | null, imageInputTokens: number | null = null) => ({
  inputTokens,
  outputTokens,
  imageInputTokens,
});

describe('estimateCostMicros', () => {
  it.each<[string, Partial<CostInput>, number]>([
    // 100 text × $5/1M + 1,000 output × $40/1M = 500 + 40,000 micro-USD
    ['reported usage at token prices', { usage: usage(100, 1_000) }, 40_500],
    // 30 text × 5 + 70 image × 10 + 1,000 × 40
    ['image input tokens at the image-input price', { usage: usage(100, 1_000, 70) }, 150 + 700 + 40_000],
    ['image input tokens past the input are capped at it', { usage: usage(100, 0, 500) }, 1_000],
    ['output only reported', { usage: usage(null, 272) }, 10_880],
    ['token prices win over per-image prices even for 3 images', { images: 3, usage: usage(0, 3_000) }, 120_000],
    ['no usage: the per-image price', { images: 2, quality: 'high', size: '1536x1024' }, 2 * 240_000],
    ['per-image only: usage is not used', { model: 'per-image', usage: usage(100, 1_000), size: '1024x1536' }, 63_000],
    ['quality auto counts as high', { model: 'per-image', quality: 'auto' }, 167_000],
    ['no quality counts as high', { model: 'per-image', quality: null }, 167_000],
    ['size auto counts as the dearest size of that quality', { model: 'per-image', quality: 'low', size: 'auto' }, 16_000],
    ['no size counts as the dearest size', { model: 'per-image', quality: 'low', size: null }, 16_000],
    ['an unreadable size counts as the dearest size', { model: 'per-image', quality: 'low', size: 'big' }, 16_000],
    ['2048x2048 is four 1024x1024', { model: 'per-image', quality: 'low', size: '2048x2048' }, 44_000],
    ['1024x640 is landscape, scaled by pixels', { model: 'per-image', quality: 'low', size: '1024x640' }, Math.round((15_000 * 1024 * 640) / (1536 * 1024))],
    ['token prices only, no usage: expected output tokens', { model: 'per-token', quality: 'high', size: '1024x1536', images: 2 }, 2 * 6_240 * 30],
    ['no images and no usage cost nothing', { images: 0 }, 0],
  ])('%s', (_name, overrides, micros) => {
    expect(estimateCostMicros(TABLE, input(overrides))).toEqual({ costMicros: micros, priced: true });
  });

  it('an unknown model is unpriced when it produced images or tokens, and counts 0', () => {
    expect(estimateCostMicros(TABLE, input({ model: 'dall-e-9' }))).toEqual({ costMicros: 0, priced: false });
    expect(estimateCostMicros(TABLE, input({ model: 'dall-e-9', images: 0, usage: usage(5, 0) }))).toEqual({ costMicros: 0, priced: false });
    expect(estimateCostMicros(TABLE, input({ model: 'dall-e-9', images: 0, usage: usage(0, 0) }))).toEqual({ costMicros: 0, priced: true });
    expect(estimateCostMicros([], input({ model: 'both', images: 0 }))).toEqual({ costMicros: 0, priced: true });
  });

  it('bad counts count as 0, never as a negative or fractional cost', () => {
    expect(estimateCostMicros(TABLE, input({ images: -2 }))).toEqual({ costMicros: 0, priced: true });
    expect(estimateCostMicros(TABLE, input({ usage: usage(Number.NaN, 2.9) }))).toEqual({ costMicros: 80, priced: true });
  });

  it('rounds to whole micro-USD', () => {
    const cheap: PriceTable = [{ model: 'm', tokens: { text: 0.15, image: 0, output: 0 } }];
    expect(estimateCostMicros(cheap, input({ model: 'm', usage: usage(3, 0) }))).toEqual({ costMicros: 0, priced: true });
    expect(estimateCostMicros(cheap, input({ model: 'm', usage: usage(10, 0) }))).toEqual({ costMicros: 2, priced: true });
  });

  it('prices gpt-image-2 by the default table as its published token prices', () => {
    const micros = estimateCostMicros(DEFAULT_PRICE_TABLE, input({ model: 'gpt-image-2', usage: usage(17, 1_372) })).costMicros;
    expect(micros).toBe(17 * 5 + 1_372 * 30);
  });
});

describe('estimateRequestReservation', () => {
  it.each<[string, Parameters<typeof estimateRequestReservation>[1], { images: number; tokens: number; costMicros: number }]>([
    [
      'token prices: prompt tokens (chars / 4, up) and n × output tokens',
      { model: 'both', quality: 'medium', size: '1024x1024', n: 2, promptChars: 41 },
      { images: 2, tokens: 11 + 2 * 1_056, costMicros: 11 * 5 + 2 * 1_056 * 40 },
    ],
    [
      'per-image prices when the model has no token prices',
      { model: 'per-image', quality: 'low', size: '1024x1536', n: 3, promptChars: 8 },
      { images: 3, tokens: 2 + 3 * 408, costMicros: 3 * 16_000 },
    ],
    [
      'auto quality and size: high and the largest token count',
      { model: 'per-token', quality: 'auto', size: 'auto', n: 1, promptChars: 0 },
      { images: 1, tokens: 6_240, costMicros: 6_240 * 30 },
    ],
    [
      'nothing asked: high quality, dearest size',
      { model: 'per-token', quality: null, size: null, n: 1, promptChars: 4 },
      { images: 1, tokens: 1 + 6_240, costMicros: 5 + 6_240 * 30 },
    ],
    [
      'an unpriced model still reserves its images and tokens',
      { model: 'dall-e-9', quality: 'low', size: '1024x1024', n: 4, promptChars: 400 },
      { images: 4, tokens: 100 + 4 * 272, costMicros: 0 },
    ],
    [
      '2048x2048 takes four times the square tokens',
      { model: 'per-token', quality: 'low', size: '2048x2048', n: 1, promptChars: 0 },
      { images: 1, tokens: 4 * 272, costMicros: 4 * 272 * 30 },
    ],
  ])('%s', (_name, request, expected) => {
    expect(estimateRequestReservation(TABLE, request)).toEqual(expected);
  });

  it('is at least the cost recorded afterwards when the upstream used what was expected', () => {
    const request = { model: 'both', quality: 'high', size: '1024x1024', n: 1, promptChars: 400 };
    const reserved = estimateRequestReservation(TABLE, request);
    const recorded = estimateCostMicros(TABLE, { ...input({ quality: 'high' }), usage: usage(100, 4_160) });
    expect(reserved.costMicros).toBe(recorded.costMicros);
  });

  it('costs well under a microsecond per call (it runs on the hot path)', () => {
    const request = { model: 'gpt-image-2', quality: 'medium', size: '1536x1024', n: 1, promptChars: 200 };
    const started = process.hrtime.bigint();
    for (let i = 0; i < 100_000; i++) estimateRequestReservation(DEFAULT_PRICE_TABLE, request);
    const nsPerCall = Number(process.hrtime.bigint() - started) / 100_000;
    expect(nsPerCall).toBeLessThan(5_000);
  });
});

describe('the option rules', () => {
  it.each([
    ['low', 'low'],
    ['medium', 'medium'],
    ['high', 'high'],
    ['auto', 'high'],
    [null, 'high'],
    ['hd', 'high'],
  ] as const)('quality %j is priced as %s', (quality, priced) => expect(resolvePriceQuality(quality)).toBe(priced));

  it.each([
    ['1024x1024', { size: '1024x1024', scale: 1 }],
    ['1536x1024', { size: '1536x1024', scale: 1 }],
    ['1024x1536', { size: '1024x1536', scale: 1 }],
    ['2048x2048', { size: '1024x1024', scale: 4 }],
    ['1088x1920', { size: '1024x1536', scale: (1088 * 1920) / (1024 * 1536) }],
    ['3840x2160', { size: '1536x1024', scale: (3840 * 2160) / (1536 * 1024) }],
    ['auto', null],
    [null, null],
    ['1024X1024', null],
    ['0x1024', null],
  ] as const)('size %j counts as %j', (size, resolved) => expect(resolvePriceSize(size)).toEqual(resolved));

  it('the output-token table is the published one', () => {
    expect(OUTPUT_TOKENS_PER_IMAGE).toEqual({
      low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
      medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
      high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
    });
  });

  it('finds a model by its exact name, and keeps finding it through the cached index', () => {
    expect(findModelPrice(TABLE, 'both')?.tokens?.output).toBe(40);
    expect(findModelPrice(TABLE, 'Both')).toBeUndefined();
    expect(findModelPrice(TABLE, 'per-image')?.image).toBe(IMAGE);
  });
});

describe('formatUsdMicros', () => {
  it.each([
    [0, '$0.00'],
    [42_000, '$0.042'],
    [12_500_000, '$12.50'],
    [272, '$0.000272'],
    [1_000_000, '$1.00'],
    [123_456_789_012, '$123456.789012'],
    [-5, '$0.00'],
  ])('%i micro-USD reads %s', (micros, text) => expect(formatUsdMicros(micros)).toBe(text));
});
