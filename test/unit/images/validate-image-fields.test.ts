import { describe, expect, it } from 'vitest';
import { MAX_PROMPT_CHARS, REQUEST_FIELDS } from '../../../src/images/image-options.js';
import { buildUnknownFieldError, validateImageFields, type ImageLimits } from '../../../src/images/validate-image-fields.js';

const limits: ImageLimits = { allowedModels: ['gpt-image-2'], maxInputImages: 5, maxPromptChars: MAX_PROMPT_CHARS };
const validate = (fields: Record<string, unknown>, numberLiteral?: (name: string) => string | undefined) =>
  validateImageFields({ fields, allowedKeys: REQUEST_FIELDS.editsMultipartText, limits, ...(numberLiteral ? { numberLiteral } : {}) });

describe('validateImageFields', () => {
  it('returns only the options that were given, and does not touch its input', () => {
    const fields = Object.freeze({ prompt: 'p', quality: 'low', output_compression: 5, user: 'u', partial_images: 1 });
    expect(validate(fields)).toEqual({ model: 'gpt-image-2', prompt: 'p', n: 1, nGiven: false, options: { quality: 'low', output_compression: 5 }, responseFormat: 'b64_json' });
    expect(fields).toEqual({ prompt: 'p', quality: 'low', output_compression: 5, user: 'u', partial_images: 1 });
  });

  it('trusts typed integers when there is no JSON literal (multipart), and checks the literal when there is', () => {
    expect(validate({ prompt: 'p', n: 2 }).n).toBe(2);
    expect(validate({ prompt: 'p', n: 2 }, () => '2').n).toBe(2);
    expect(() => validate({ prompt: 'p', n: 2 }, () => '2.0')).toThrow('n must be an integer');
    expect(() => validate({ prompt: 'p', n: 2 }, () => '0.2e1')).toThrow('n must be an integer');
  });

  it('uses the allowed keys it is given', () => {
    expect(() => validate({ prompt: 'p', images: [] })).toThrow('unknown field `images`');
    expect(validateImageFields({ fields: { prompt: 'p', images: [] }, allowedKeys: REQUEST_FIELDS.edits, limits }).prompt).toBe('p');
  });

  it('ignores inherited properties: only own fields count', () => {
    const fields = Object.create({ n: 9, style: 'x' }) as Record<string, unknown>;
    fields.prompt = 'p';
    expect(validate(fields)).toMatchObject({ n: 1, nGiven: false });
  });

  it('refuses an empty model list (a configuration error, not a client error)', () => {
    expect(() => validateImageFields({ fields: { prompt: 'p' }, allowedKeys: REQUEST_FIELDS.generations, limits: { ...limits, allowedModels: [] } })).toThrow(RangeError);
  });
});

describe('buildUnknownFieldError', () => {
  it.each([
    ['style', 'unknown field `style`', 'style'],
    ['x'.repeat(65), `unknown field \`${'x'.repeat(64)}…\``, `${'x'.repeat(64)}…`],
    ['x'.repeat(64), `unknown field \`${'x'.repeat(64)}\``, 'x'.repeat(64)],
  ])('quotes %s', (name, message, param) => {
    expect(buildUnknownFieldError(name)).toMatchObject({ code: 'unknown_field', status: 400, message, param });
  });
});
