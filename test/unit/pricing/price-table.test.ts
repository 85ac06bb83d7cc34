import { describe, expect, it } from 'vitest';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { isValidUpstreamModel } from '../../../src/images/model-aliases.js';
import { DEFAULT_PRICE_TABLE, MAX_PRICE_USD, PRICE_QUALITIES, PRICE_SIZES, parsePriceTable, type PriceTable } from '../../../src/pricing/price-table.js';
import { buildWireView, parseWireView } from '../../../src/control/admin-wire.js';

const RULES = { maxModels: FIELD_LIMITS.priceTable.max, isModelName: isValidUpstreamModel };
const check = (value: unknown) => parsePriceTable(value, 'price_table', RULES);

const IMAGE = {
  low: { '1024x1024': 0.01, '1024x1536': 0.02, '1536x1024': 0.02 },
  medium: { '1024x1024': 0.04, '1024x1536': 0.06, '1536x1024': 0.06 },
  high: { '1024x1024': 0.16, '1024x1536': 0.25, '1536x1024': 0.25 },
};
const TOKENS = { text: 5, image: 10, output: 40 };

describe('DEFAULT_PRICE_TABLE', () => {
  it('passes its own check unchanged, within the bounds', () => {
    expect(check(DEFAULT_PRICE_TABLE)).toEqual({ ok: true, value: DEFAULT_PRICE_TABLE });
    expect(DEFAULT_PRICE_TABLE.length).toBeLessThanOrEqual(FIELD_LIMITS.priceTable.max);
  });

  it('prices the four GPT image models with the published figures', () => {
    const byModel = new Map(DEFAULT_PRICE_TABLE.map((p) => [p.model, p]));
    expect([...byModel.keys()]).toEqual(['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2']);
    expect(byModel.get('gpt-image-1')).toMatchObject({
      tokens: { text: 5, image: 10, output: 40 },
      image: { high: { '1024x1024': 0.167, '1536x1024': 0.25 } },
    });
    expect(byModel.get('gpt-image-1.5')).toMatchObject({ tokens: { text: 5, image: 8, output: 32 }, image: { low: { '1024x1024': 0.009 } } });
    expect(byModel.get('gpt-image-1-mini')).toMatchObject({ image: { medium: { '1024x1024': 0.008 } } });
    expect(byModel.get('gpt-image-2')).toEqual({ model: 'gpt-image-2', tokens: { text: 5, image: 8, output: 30 } });
  });

  it('travels through the admin API renaming unchanged, both ways (every key is one word or a size)', () => {
    expect(buildWireView(DEFAULT_PRICE_TABLE)).toEqual(DEFAULT_PRICE_TABLE);
    expect(parseWireView<PriceTable>(DEFAULT_PRICE_TABLE)).toEqual(DEFAULT_PRICE_TABLE);
  });
});

describe('parsePriceTable', () => {
  it('accepts image prices only, token prices only, both, an empty table, and the bounds themselves', () => {
    const table = [
      { model: 'a', image: IMAGE },
      { model: 'b', tokens: TOKENS },
      { model: 'gpt-image-x', image: IMAGE, tokens: { text: 0, image: 0, output: MAX_PRICE_USD } },
    ];
    expect(check(table)).toEqual({ ok: true, value: table });
    expect(check([])).toEqual({ ok: true, value: [] });
    const most = Array.from({ length: RULES.maxModels }, (_, i) => ({ model: `m${i}`, tokens: TOKENS }));
    expect(check(most).ok).toBe(true);
  });

  const entry = (overrides: Record<string, unknown>) => [{ model: 'gpt-image-1', image: IMAGE, tokens: TOKENS, ...overrides }];
  const withImage = (quality: string, sizes: Record<string, unknown>) => entry({ image: { ...IMAGE, [quality]: sizes } });

  it.each<[string, unknown, string, string]>([
    ['not a list', { 'gpt-image-1': { tokens: TOKENS } }, 'price_table', `price_table must be a list of at most ${FIELD_LIMITS.priceTable.max} models`],
    [
      'too many models',
      Array.from({ length: RULES.maxModels + 1 }, (_, i) => ({ model: `m${i}`, tokens: TOKENS })),
      'price_table',
      `price_table must be a list of at most ${FIELD_LIMITS.priceTable.max} models`,
    ],
    ['an entry that is not an object', ['gpt-image-1'], 'price_table[0]', 'price_table[0] must be an object with model and image and/or tokens'],
    [
      'an unknown field',
      entry({ per_image: IMAGE }),
      'price_table[0].per_image',
      'price_table[0].per_image is not a field here (allowed: model, image, tokens)',
    ],
    ['no model', [{ tokens: TOKENS }], 'price_table[0].model', 'price_table[0].model must be an upstream model name'],
    ['a model name with a space', entry({ model: 'gpt image' }), 'price_table[0].model', 'price_table[0].model must be an upstream model name'],
    ['neither prices', [{ model: 'gpt-image-1' }], 'price_table[0]', 'price_table[0] must have image prices, token prices or both'],
    [
      'a model twice',
      [
        { model: 'm', tokens: TOKENS },
        { model: 'm', image: IMAGE },
      ],
      'price_table[1].model',
      'price_table[1].model names m a second time',
    ],
    [
      'a missing quality',
      entry({ image: { low: IMAGE.low, medium: IMAGE.medium } }),
      'price_table[0].image.high',
      'price_table[0].image.high is missing (price_table[0].image needs every one of low, medium, high)',
    ],
    [
      'an unknown quality',
      entry({ image: { ...IMAGE, auto: IMAGE.low } }),
      'price_table[0].image.auto',
      'price_table[0].image.auto is not a field here (allowed: low, medium, high)',
    ],
    [
      'a missing size',
      withImage('medium', { '1024x1024': 1, '1024x1536': 1 }),
      'price_table[0].image.medium.1536x1024',
      'price_table[0].image.medium.1536x1024 is missing (price_table[0].image.medium needs every one of 1024x1024, 1024x1536, 1536x1024)',
    ],
    [
      'an unknown size',
      withImage('low', { ...IMAGE.low, '2048x2048': 1 }),
      'price_table[0].image.low.2048x2048',
      'price_table[0].image.low.2048x2048 is not a field here (allowed: 1024x1024, 1024x1536, 1536x1024)',
    ],
    [
      'a negative price',
      withImage('high', { ...IMAGE.high, '1024x1536': -0.01 }),
      'price_table[0].image.high.1024x1536',
      `price_table[0].image.high.1024x1536 must be a number of USD from 0 to ${MAX_PRICE_USD}`,
    ],
    [
      'a price as a string',
      entry({ tokens: { ...TOKENS, text: '5' } }),
      'price_table[0].tokens.text',
      `price_table[0].tokens.text must be a number of USD from 0 to ${MAX_PRICE_USD}`,
    ],
    [
      'a price past the bound',
      entry({ tokens: { ...TOKENS, output: MAX_PRICE_USD + 0.01 } }),
      'price_table[0].tokens.output',
      `price_table[0].tokens.output must be a number of USD from 0 to ${MAX_PRICE_USD}`,
    ],
    [
      'a missing token kind',
      entry({ tokens: { text: 5, output: 40 } }),
      'price_table[0].tokens.image',
      'price_table[0].tokens.image is missing (price_table[0].tokens needs every one of text, image, output)',
    ],
    ['tokens as a list', entry({ tokens: [5, 10, 40] }), 'price_table[0].tokens', 'price_table[0].tokens must be an object of text, image, output'],
    [
      'a camelCase token kind',
      entry({ tokens: { ...TOKENS, imageInput: 1 } }),
      'price_table[0].tokens.imageInput',
      'price_table[0].tokens.imageInput is not a field here (allowed: text, image, output)',
    ],
  ])('refuses %s, naming the path', (_name, value, path, message) => {
    expect(check(value)).toEqual({ ok: false, path, message });
  });

  it('covers every quality × size of a per-image table', () => {
    expect(PRICE_QUALITIES.length * PRICE_SIZES.length).toBe(9);
    for (const q of PRICE_QUALITIES) for (const s of PRICE_SIZES) expect(IMAGE[q][s]).toBeTypeOf('number');
  });
});
