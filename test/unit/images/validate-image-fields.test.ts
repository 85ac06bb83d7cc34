import { describe, expect, it } from 'vitest';
import type { RequestForm } from '../../../src/images/field-policy.js';
import { buildUnknownFieldError, buildUnsupportedFieldError, validateImageFields } from '../../../src/images/validate-image-fields.js';
import { testImageLimits } from '../../support/image-limits.js';

const limits = testImageLimits({ maxInputImages: 5 });
const validate = (fields: Record<string, unknown>, opts: { form?: RequestForm; numberLiteral?: (name: string) => string | undefined; strict?: boolean } = {}) =>
  validateImageFields({
    fields,
    form: opts.form ?? 'editsMultipart',
    limits: opts.strict ? { ...limits, fieldPolicy: 'strict' } : limits,
    ...(opts.numberLiteral ? { numberLiteral: opts.numberLiteral } : {}),
  });

describe('validateImageFields', () => {
  it('returns only the options that were given, names what it dropped, and does not touch its input', () => {
    const fields = Object.freeze({ prompt: 'p', quality: 'low', output_compression: 5, user: 'u', partial_images: 1 });
    expect(validate(fields)).toEqual({
      model: 'gpt-image-2',
      requestedModel: null,
      prompt: 'p',
      n: 1,
      nGiven: false,
      options: { quality: 'low', output_compression: 5 },
      responseFormat: 'b64_json',
      stream: false,
      partialImages: 0,
      ignoredParams: ['partial_images', 'user'],
      mappedParams: [],
    });
    expect(fields).toEqual({ prompt: 'p', quality: 'low', output_compression: 5, user: 'u', partial_images: 1 });
  });

  it('trusts typed integers when there is no JSON literal (multipart), and checks the literal when there is', () => {
    expect(validate({ prompt: 'p', n: 2 }).n).toBe(2);
    expect(validate({ prompt: 'p', n: 2 }, { numberLiteral: () => '2' }).n).toBe(2);
    expect(() => validate({ prompt: 'p', n: 2 }, { numberLiteral: () => '2.0' })).toThrow('n must be an integer');
    expect(() => validate({ prompt: 'p', n: 2 }, { numberLiteral: () => '0.2e1' })).toThrow('n must be an integer');
  });

  it('uses the rules of the form it is given', () => {
    expect(() => validate({ prompt: 'p', images: [] })).toThrow('unknown field `images`');
    expect(validate({ prompt: 'p', images: [] }, { form: 'editsJson' }).prompt).toBe('p');
    expect(validate({ prompt: 'p', input_fidelity: 'high' }, { form: 'generations' })).toMatchObject({ options: {}, ignoredParams: ['input_fidelity'] });
    expect(validate({ prompt: 'p', input_fidelity: 'high' }, { form: 'editsJson' })).toMatchObject({ options: { input_fidelity: 'high' }, ignoredParams: [] });
  });

  it('ignores inherited properties: only own fields count', () => {
    const fields = Object.create({ n: 9, style: 'x' }) as Record<string, unknown>;
    fields.prompt = 'p';
    expect(validate(fields)).toMatchObject({ n: 1, nGiven: false, ignoredParams: [] });
  });

  it('treats null as absent, except for the prompt', () => {
    expect(validate({ prompt: 'p', n: null, size: null, model: null, style: null }, { form: 'generations' })).toMatchObject({
      n: 1,
      nGiven: false,
      options: {},
      ignoredParams: [],
    });
    expect(() => validate({ prompt: null })).toThrow('prompt is required');
  });

  it('stream: partial images only with a stream; a stream answers b64_json only', () => {
    expect(validate({ prompt: 'p', stream: true, partial_images: 2, response_format: 'url' })).toMatchObject({
      stream: true,
      partialImages: 2,
      responseFormat: 'b64_json',
      ignoredParams: ['response_format'],
    });
    expect(validate({ prompt: 'p', partial_images: 2 })).toMatchObject({ stream: false, partialImages: 0, ignoredParams: ['partial_images'] });
    expect(validate({ prompt: 'p', stream: false, partial_images: 0 })).toMatchObject({ stream: false, partialImages: 0, ignoredParams: [] });
  });

  it('maps legacy values and names the fields it mapped', () => {
    expect(validate({ prompt: 'p', quality: 'hd', size: '512x512', output_format: 'gif' }, { form: 'generations' })).toMatchObject({
      options: { quality: 'high', size: '1024x1024', output_format: 'png' },
      mappedParams: ['output_format', 'quality', 'size'],
    });
  });

  it('strict: a dropped field or a mapped value is a 400 instead', () => {
    expect(() => validate({ prompt: 'p', style: 'vivid' }, { strict: true })).toThrow(expect.objectContaining({ code: 'unsupported_field', param: 'style' }));
    expect(() => validate({ prompt: 'p', quality: 'standard' }, { strict: true })).toThrow(
      expect.objectContaining({ code: 'unsupported_value', param: 'quality' }),
    );
    expect(validate({ prompt: 'p', quality: 'high', size: null }, { strict: true }).options).toEqual({ quality: 'high' });
  });

  it('asks the model resolver, with undefined when no model was sent', () => {
    const seen: Array<string | undefined> = [];
    const resolveModel = (requested: string | undefined) => {
      seen.push(requested);
      return { requested: requested ?? null, upstream: 'up-model' };
    };
    const run = (fields: Record<string, unknown>) => validateImageFields({ fields, form: 'generations', limits: { ...limits, resolveModel } });
    expect(run({ prompt: 'p', model: 'dall-e-3' })).toMatchObject({ model: 'up-model', requestedModel: 'dall-e-3' });
    expect(run({ prompt: 'p' })).toMatchObject({ model: 'up-model', requestedModel: null });
    expect(seen).toEqual(['dall-e-3', undefined]);
    expect(() => run({ prompt: 'p', model: 3 })).toThrow('model must be a string');
  });
});

describe('buildUnknownFieldError / buildUnsupportedFieldError', () => {
  it.each([
    ['style', 'unknown field `style`', 'style'],
    ['x'.repeat(65), `unknown field \`${'x'.repeat(64)}…\``, `${'x'.repeat(64)}…`],
    ['x'.repeat(64), `unknown field \`${'x'.repeat(64)}\``, 'x'.repeat(64)],
  ])('quotes %s', (name, message, param) => {
    expect(buildUnknownFieldError(name)).toMatchObject({ code: 'unknown_field', status: 400, message, param });
  });

  it('names the field the strict policy refuses', () => {
    expect(buildUnsupportedFieldError('style')).toMatchObject({ code: 'unsupported_field', status: 400, param: 'style' });
  });
});
