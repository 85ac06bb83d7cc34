import { describe, expect, it } from 'vitest';
import { testImageLimits } from '../../support/image-limits.js';
import { isGatewayError } from '../../../src/errors/codes.js';
import { MAX_PROMPT_CHARS, SIZE_RULE_TEXT } from '../../../src/images/image-options.js';
import type { ImageEndpoint } from '../../../src/images/image-request.js';
import { parseImageJson, type ImageLimits } from '../../../src/images/parse-image-json.js';
import { makeJpegHeader, makePng, makeWebpHeader, toDataUrl } from '../../support/images.js';

const LIMITS: ImageLimits = testImageLimits({ maxInputImages: 5 });
const PNG = makePng(3, 3);
const PNG_URL = toDataUrl('png', PNG);
const HTTPS = 'https://example.com/src.png';

const gen = (extra: Record<string, unknown> = {}) => JSON.stringify({ prompt: 'a red fox', ...extra });
const edit = (extra: Record<string, unknown> = {}) => JSON.stringify({ prompt: 'add a hat', images: [HTTPS], ...extra });

function errorOf(endpoint: ImageEndpoint, text: string, limits: ImageLimits = LIMITS) {
  try {
    parseImageJson(endpoint, text, limits);
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, message: err.message, param: err.param };
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('parseImageJson: the canonical request', () => {
  it('fills defaults and records that n was given', () => {
    const req = parseImageJson('generations', gen({ size: '1024x1024', quality: 'high', n: 2 }), LIMITS);
    expect(req).toEqual({
      endpoint: 'generations',
      model: 'gpt-image-2',
      prompt: 'a red fox',
      n: 2,
      nGiven: true,
      options: { size: '1024x1024', quality: 'high' },
      responseFormat: 'b64_json',
      images: [],
      mask: null,
      requestedModel: null,
      stream: false,
      partialImages: 0,
      ignoredParams: [],
      mappedParams: [],
    });
  });

  it('defaults n to 1 without marking it given', () => {
    expect(parseImageJson('generations', gen(), LIMITS)).toMatchObject({ n: 1, nGiven: false, options: {} });
  });

  it('keeps every option, response_format, and accepts user, stream:false and partial_images without forwarding them', () => {
    const text = edit({
      model: 'gpt-image-2',
      n: 4,
      size: 'auto',
      quality: 'low',
      background: 'transparent',
      output_format: 'webp',
      output_compression: 0,
      moderation: 'low',
      input_fidelity: 'high',
      response_format: 'url',
      user: 'u-1',
      stream: false,
      partial_images: 3,
    });
    const req = parseImageJson('edits', text, LIMITS);
    expect(req.options).toEqual({
      size: 'auto',
      quality: 'low',
      background: 'transparent',
      output_format: 'webp',
      output_compression: 0,
      moderation: 'low',
      input_fidelity: 'high',
    });
    expect(req).toMatchObject({ n: 4, responseFormat: 'url' });
    expect(JSON.stringify(req)).not.toContain('u-1');
  });

  it('does not trim the prompt', () => {
    expect(parseImageJson('generations', gen({ prompt: '  spaced \n' }), LIMITS).prompt).toBe('  spaced \n');
  });

  it('turns edit images into url and inline inputs in order, with a mask', () => {
    const webp = toDataUrl('webp', makeWebpHeader());
    const jpg = toDataUrl('jpg', makeJpegHeader());
    const req = parseImageJson('edits', edit({ images: [PNG_URL, { image_url: 'https://example.com/b.webp' }, jpg], mask: { image_url: webp } }), LIMITS);
    expect(req.images).toEqual([
      { kind: 'inline', mime: 'image/png', bytes: PNG.length, dataUrl: PNG_URL },
      { kind: 'url', url: 'https://example.com/b.webp' },
      { kind: 'inline', mime: 'image/jpeg', bytes: makeJpegHeader().length, dataUrl: jpg },
    ]);
    expect(req.mask).toEqual({ kind: 'inline', mime: 'image/webp', bytes: makeWebpHeader().length, dataUrl: webp });
  });

  it('accepts any configured model and defaults to the first', () => {
    const limits = testImageLimits({ maxInputImages: 5, servedModels: ['gpt-image-2', 'gpt-image-1.5'] });
    expect(parseImageJson('generations', gen(), limits).model).toBe('gpt-image-2');
    expect(parseImageJson('generations', gen({ model: 'gpt-image-1.5' }), limits).model).toBe('gpt-image-1.5');
  });

  it.each(['{"prompt":"p","n":2}', '{"prompt":"p","n":4 }', '{"n":1,"prompt":"p"}', '{"prompt":"p","n":3,"output_compression":100,"partial_images":0}'])(
    'accepts integer literals in %s',
    (text) => expect(parseImageJson('generations', text, LIMITS).nGiven).toBe(true),
  );
});

describe('parseImageJson: rejections (first failure wins, param = field)', () => {
  const INVALID_JSON = { code: 'invalid_json', message: 'request body must be valid JSON', param: null };
  it.each([
    ['empty', ''],
    ['truncated', '{"prompt":"p"'],
    ['trailing comma', '{"prompt":"p",}'],
    ['single quotes', "{'prompt':'p'}"],
    ['a __proto__ key', '{"prompt":"p","__proto__":{"x":1}}'],
    ['a nested __proto__ key', '{"prompt":"p","images":[{"__proto__":{"x":1}}]}'],
    ['a constructor.prototype key', '{"prompt":"p","constructor":{"prototype":{"x":1}}}'],
  ])('invalid JSON: %s', (_label, text) => expect(errorOf('generations', text)).toEqual(INVALID_JSON));

  it('does not echo the body in the invalid JSON error', () => {
    expect.assertions(2);
    try {
      parseImageJson('generations', '{"prompt":"my secret prompt",', LIMITS);
    } catch (err) {
      expect(JSON.stringify(err)).not.toContain('secret');
      expect(String((err as Error).cause ?? '')).not.toContain('secret');
    }
  });

  it.each(['[]', '"text"', '42', 'null', 'true', '[{"prompt":"p"}]'])('not an object: %s', (text) => {
    expect(errorOf('generations', text)).toEqual({ code: 'invalid_request', message: 'request body must be a JSON object', param: null });
  });

  it.each([
    ['generations', gen({ styles: 'vivid' }), 'styles'],
    ['generations', gen({ zeta: 1, style: 'vivid', alpha: 1 }), 'alpha'],
    ['generations', gen({ images: [HTTPS] }), 'images'],
    ['generations', gen({ mask: HTTPS }), 'mask'],
    ['generations', gen({ markup: HTTPS }), 'markup'],
    ['generations', gen({ image: HTTPS }), 'image'],
    ['edits', edit({ image: HTTPS }), 'image'],
    ['edits', edit({ Prompt: 'x' }), 'Prompt'],
    ['edits', edit({ model: 7, colour: 'x' }), 'colour'],
  ] as const)('%s: unknown field reported in sorted order (%s)', (endpoint, text, name) => {
    expect(errorOf(endpoint, text)).toEqual({ code: 'unknown_field', message: `unknown field \`${name}\``, param: name });
  });

  it('cuts a very long unknown field name before quoting it', () => {
    const name = 'x'.repeat(10_000);
    const err = errorOf('generations', gen({ [name]: 1 }));
    expect(err.code).toBe('unknown_field');
    expect(err.message.length).toBeLessThan(100);
  });

  it.each([
    ['model number', gen({ model: 2 }), 'invalid_request', 'model must be a string', 'model'],
    ['prompt missing', '{}', 'invalid_request', 'prompt is required', 'prompt'],
    ['prompt empty', gen({ prompt: '' }), 'invalid_request', 'prompt is required', 'prompt'],
    ['prompt whitespace', gen({ prompt: ' \n\t ' }), 'invalid_request', 'prompt is required', 'prompt'],
    ['prompt null', gen({ prompt: null }), 'invalid_request', 'prompt is required', 'prompt'],
    ['prompt array', gen({ prompt: ['a'] }), 'invalid_request', 'prompt must be a string', 'prompt'],
    ['prompt too long', gen({ prompt: 'x'.repeat(MAX_PROMPT_CHARS + 1) }), 'invalid_request', 'prompt must be at most 32000 characters', 'prompt'],
    ['n string', gen({ n: '2' }), 'invalid_request', 'n must be an integer', 'n'],
    ['n bool', gen({ n: true }), 'invalid_request', 'n must be an integer', 'n'],
    ['n float', gen({ n: 1.5 }), 'invalid_request', 'n must be an integer', 'n'],
    ['n negative', gen({ n: -1 }), 'invalid_request', 'n must be an integer', 'n'],
    ['n 0', gen({ n: 0 }), 'invalid_request', 'n must be between 1 and 10', 'n'],
    ['n 11', gen({ n: 11 }), 'invalid_request', 'n must be between 1 and 10', 'n'],
    ['quality ultra', gen({ quality: 'ultra' }), 'unsupported_value', 'quality has unsupported value', 'quality'],
    ['output_format bmp', gen({ output_format: 'bmp' }), 'unsupported_value', 'output_format has unsupported value', 'output_format'],
    [
      'size 256X256 (a legacy size, but not its spelling)',
      gen({ size: '256X256' }),
      'unsupported_value',
      `size has unsupported value: ${SIZE_RULE_TEXT}`,
      'size',
    ],
    ['style number (dropped fields are still type-checked)', gen({ style: 3 }), 'invalid_request', 'style must be a string', 'style'],
    ['svg string', gen({ svg: 'x' }), 'invalid_request', 'svg must be an object', 'svg'],
    ['frame_count 2.5', gen({ frame_count: 2.5 }), 'invalid_request', 'frame_count must be an integer', 'frame_count'],
    ['n huge', '{"prompt":"p","n":100000000000000000000}', 'invalid_request', 'n must be between 1 and 10', 'n'],
    ['n 2.0', '{"prompt":"p","n":2.0}', 'invalid_request', 'n must be an integer', 'n'],
    ['n 1e0', '{"prompt":"p","n":1e0}', 'invalid_request', 'n must be an integer', 'n'],
    ['n 2E0', '{"prompt":"p","n":2E0}', 'invalid_request', 'n must be an integer', 'n'],
    ['n -0', '{"prompt":"p","n":-0}', 'invalid_request', 'n must be an integer', 'n'],
    ['n escaped key 2.0', '{"prompt":"p","\\u006e":2.0}', 'invalid_request', 'n must be an integer', 'n'],
    ['n repeated, last is 2.0', '{"prompt":"p","n":2,"n":2.0}', 'invalid_request', 'n must be an integer', 'n'],
    ['size number', gen({ size: 1024 }), 'invalid_request', 'size must be a string', 'size'],
    ['size 1000x1000', gen({ size: '1000x1000' }), 'unsupported_value', `size has unsupported value: ${SIZE_RULE_TEXT}`, 'size'],
    ['size 3840x1024', gen({ size: '3840x1024' }), 'unsupported_value', `size has unsupported value: ${SIZE_RULE_TEXT}`, 'size'],
    ['size 1024X1024', gen({ size: '1024X1024' }), 'unsupported_value', `size has unsupported value: ${SIZE_RULE_TEXT}`, 'size'],
    ['background white', gen({ background: 'white' }), 'unsupported_value', 'background has unsupported value', 'background'],
    ['output_format PNG', gen({ output_format: 'PNG' }), 'unsupported_value', 'output_format has unsupported value', 'output_format'],
    ['output_compression 101', gen({ output_compression: 101 }), 'invalid_request', 'output_compression must be between 0 and 100', 'output_compression'],
    ['output_compression 50.0', '{"prompt":"p","output_compression":50.0}', 'invalid_request', 'output_compression must be an integer', 'output_compression'],
    ['output_compression "80"', gen({ output_compression: '80' }), 'invalid_request', 'output_compression must be an integer', 'output_compression'],
    ['moderation high', gen({ moderation: 'high' }), 'unsupported_value', 'moderation has unsupported value', 'moderation'],
    ['response_format json', gen({ response_format: 'json' }), 'unsupported_value', 'response_format has unsupported value', 'response_format'],
    ['user number', gen({ user: 7 }), 'invalid_request', 'user must be a string', 'user'],
    ['stream "false"', gen({ stream: 'false' }), 'invalid_request', 'stream must be a boolean', 'stream'],
    ['partial_images 4', gen({ partial_images: 4 }), 'invalid_request', 'partial_images must be between 0 and 3', 'partial_images'],
    ['partial_images 1.0', '{"prompt":"p","partial_images":1.0}', 'invalid_request', 'partial_images must be an integer', 'partial_images'],
  ])('generations: %s', (_label, text, code, message, param) => {
    expect(errorOf('generations', text)).toEqual({ code, message, param });
  });

  it('counts the prompt limit in characters, not UTF-16 units, and follows the configured limit', () => {
    const astral = '😀'.repeat(MAX_PROMPT_CHARS); // 64000 UTF-16 units, 32000 characters
    expect(parseImageJson('generations', gen({ prompt: astral }), LIMITS).prompt).toBe(astral);
    expect(parseImageJson('generations', gen({ prompt: 'x'.repeat(MAX_PROMPT_CHARS) }), LIMITS).prompt).toHaveLength(MAX_PROMPT_CHARS);
    expect(errorOf('generations', gen({ prompt: 'abcdef' }), { ...LIMITS, maxPromptChars: 5 }).message).toBe('prompt must be at most 5 characters');
  });

  it.each([
    ['model before prompt', { model: 7, prompt: '' }, 'model'],
    ['prompt before n', { prompt: '', n: 9 }, 'prompt'],
    ['n before size', { n: 11, size: 'x' }, 'n'],
    ['size before quality', { size: 'x', quality: 'x' }, 'size'],
    ['quality before background', { quality: 'x', background: 'x' }, 'quality'],
    ['background before output_format', { background: 'x', output_format: 'x' }, 'background'],
    ['output_format before output_compression', { output_format: 'x', output_compression: -1 }, 'output_format'],
    ['output_compression before moderation', { output_compression: -1, moderation: 'x' }, 'output_compression'],
    ['moderation before input_fidelity', { moderation: 'x', input_fidelity: 'x' }, 'moderation'],
    ['input_fidelity before response_format', { input_fidelity: 'x', response_format: 'x' }, 'input_fidelity'],
    ['response_format before stream', { response_format: 'x', stream: true }, 'response_format'],
    ['stream before partial_images', { stream: 'yes', partial_images: 9 }, 'stream'],
    ['partial_images before style', { partial_images: 9, style: 1 }, 'partial_images'],
    ['svg before images', { svg: 1, images: [] }, 'svg'],
    ['images before mask', { images: [], mask: 1 }, 'images'],
  ])('checks in order: %s', (_label, extra, param) => {
    expect(errorOf('edits', edit({ prompt: 'p', ...extra })).param).toBe(param);
  });

  it.each([
    ['missing', JSON.stringify({ prompt: 'p' }), 'invalid_request', 'images is required', 'images'],
    ['a string', edit({ images: HTTPS }), 'invalid_request', 'images must be an array', 'images'],
    ['null', edit({ images: null }), 'invalid_request', 'images is required', 'images'],
    ['empty', edit({ images: [] }), 'invalid_request', 'images must contain between 1 and 5 entries', 'images'],
    ['six', edit({ images: Array(6).fill(HTTPS) }), 'invalid_request', 'images must contain between 1 and 5 entries', 'images'],
    ['file://', edit({ images: [HTTPS, 'file:///a.png'] }), 'invalid_image', 'image source must be an http(s) URL or supported image data URL', 'images[1]'],
    ['./a.png', edit({ images: ['./a.png'] }), 'invalid_image', 'image source must be an http(s) URL or supported image data URL', 'images[0]'],
    [
      'text data URL',
      edit({ images: ['data:text/plain;base64,aGk='] }),
      'invalid_image',
      'image source must be an http(s) URL or supported image data URL',
      'images[0]',
    ],
    ['PNG declared webp', edit({ images: [HTTPS, toDataUrl('webp', PNG)] }), 'invalid_image', 'images[1] is not a valid PNG, JPEG or WebP image', 'images[1]'],
    [
      'bad base64',
      edit({ images: [`${PNG_URL.slice(0, 40)}*${PNG_URL.slice(41)}`] }),
      'invalid_image',
      'images[0] is not a valid PNG, JPEG or WebP image',
      'images[0]',
    ],
    [
      'file_id',
      edit({ images: [{ file_id: 'file-1' }] }),
      'file_id_not_supported',
      'file_id image references are not supported; send the image as a data URL or upload it as multipart',
      'images[0]',
    ],
    ['an object without image_url', edit({ images: [{ url: HTTPS }] }), 'invalid_request', 'image source must be a string or {"image_url": ...}', 'images[0]'],
    [
      'mask file_id',
      edit({ mask: { file_id: 'file-m' } }),
      'file_id_not_supported',
      'file_id image references are not supported; send the image as a data URL or upload it as multipart',
      'mask',
    ],
    ['mask JPEG declared png', edit({ mask: toDataUrl('png', makeJpegHeader()) }), 'invalid_image', 'mask is not a valid PNG, JPEG or WebP image', 'mask'],
  ])('edits images: %s', (_label, text, code, message, param) => {
    expect(errorOf('edits', text)).toEqual({ code, message, param });
  });

  it('uses the configured image maximum in the count rule', () => {
    const limits = { ...LIMITS, maxInputImages: 2 };
    expect(parseImageJson('edits', edit({ images: [HTTPS, HTTPS] }), limits).images).toHaveLength(2);
    expect(errorOf('edits', edit({ images: [HTTPS, HTTPS, HTTPS] }), limits).message).toBe('images must contain between 1 and 2 entries');
  });

  it('handles a 30 MB data URL body without trouble', () => {
    const big = `data:image/png;base64,${PNG.toString('base64')}${'A'.repeat(30 * 1024 * 1024)}`;
    const req = parseImageJson('edits', `{"prompt":"p","n":2,"images":["${big}"]}`, LIMITS);
    expect(req.images[0]).toMatchObject({ kind: 'inline', mime: 'image/png' });
    expect(errorOf('edits', `{"prompt":"p","images":["${big}"],"n":2.0}`).message).toBe('n must be an integer');
  });
});
