import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testImageLimits } from '../../support/image-limits.js';
import { isGatewayError } from '../../../src/errors/codes.js';
import type { ImageInput, ImageRequest } from '../../../src/images/image-request.js';
import { createImageSpool, type ImageSpool } from '../../../src/images/image-spool.js';
import { parseImageMultipart, type MultipartLimits, type MultipartPart } from '../../../src/images/parse-image-multipart.js';
import { makeJpegHeader, makePng, makeWebpHeader, padImage } from '../../support/images.js';

let dir: string;
let spool: ImageSpool;
let limits: MultipartLimits;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-multipart-test-'));
  spool = createImageSpool({ dir, maxFileBytes: 1_000_000, maxTotalBytes: 2_500_000 });
  limits = { ...testImageLimits({ maxInputImages: 5 }), spool };
});
afterEach(async () => {
  await spool.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const file = (fieldname: string, bytes: Buffer): MultipartPart => ({
  type: 'file',
  fieldname,
  filename: 'x.png',
  mimetype: 'image/png',
  file: Readable.from([bytes]),
});
const field = (fieldname: string, value: unknown): MultipartPart => ({ type: 'field', fieldname, value });
const PROMPT = field('prompt', 'add a hat');
const PNG = makePng(4, 4);

async function* iterate(parts: MultipartPart[], failWith?: Error): AsyncGenerator<MultipartPart> {
  for (const part of parts) yield part;
  if (failWith) throw failWith;
}

async function parse(parts: MultipartPart[], failWith?: Error): Promise<ImageRequest> {
  return parseImageMultipart(iterate(parts, failWith), limits);
}

async function errorOf(parts: MultipartPart[]) {
  try {
    await parse(parts);
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, message: err.message, param: err.param };
    throw err;
  }
  throw new Error('expected a GatewayError');
}

async function readRaw(input: ImageInput | null | undefined): Promise<Buffer> {
  if (input?.kind !== 'spooled') throw new Error('expected a spooled input');
  const chunks: Buffer[] = [];
  for await (const chunk of input.file.openRaw()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('parseImageMultipart: accepted forms', () => {
  it('parses one image, coerces text fields and spools the file', async () => {
    const req = await parse([
      file('image', PNG),
      PROMPT,
      field('n', '2'),
      field('size', '1024x1536'),
      field('stream', 'false'),
      field('output_compression', '0'),
    ]);
    expect(req).toMatchObject({
      endpoint: 'edits',
      model: 'gpt-image-2',
      prompt: 'add a hat',
      n: 2,
      nGiven: true,
      mask: null,
      options: { size: '1024x1536', output_compression: 0 },
    });
    expect(req.images).toHaveLength(1);
    expect(req.images[0]).toMatchObject({ kind: 'spooled', mime: 'image/png', bytes: PNG.length });
    expect((await readRaw(req.images[0])).equals(PNG)).toBe(true);
  });

  it('keeps image[] in arrival order, with a mask', async () => {
    const bytes = [makePng(1, 1), padImage(makeJpegHeader(), 5000), padImage(makeWebpHeader(), 6000)];
    const req = await parse([PROMPT, ...bytes.map((b) => file('image[]', b)), file('mask', makePng(2, 2))]);
    expect(req.images.map((i) => i.kind === 'spooled' && i.mime)).toEqual(['image/png', 'image/jpeg', 'image/webp']);
    for (const [i, b] of bytes.entries()) expect((await readRaw(req.images[i])).equals(b)).toBe(true);
    expect((await readRaw(req.mask)).equals(makePng(2, 2))).toBe(true);
  });

  it('places image[N] by N whatever the arrival order', async () => {
    const bytes = [makePng(1, 1), makePng(2, 2), makePng(3, 3)];
    const req = await parse([file('image[2]', bytes[2]!), PROMPT, file('image[0]', bytes[0]!), file('image[1]', bytes[1]!)]);
    for (const [i, b] of bytes.entries()) expect((await readRaw(req.images[i])).equals(b)).toBe(true);
  });

  it('treats empty text fields as absent (the Python SDK sends None as "")', async () => {
    const req = await parse([file('image', PNG), PROMPT, field('n', ''), field('size', ''), field('stream', ''), field('n', '')]);
    expect(req).toMatchObject({ n: 1, nGiven: false, options: {} });
  });

  it('accepts moderation and the other multipart options', async () => {
    const req = await parse([
      file('image', PNG),
      PROMPT,
      field('moderation', 'low'),
      field('input_fidelity', 'high'),
      field('quality', 'medium'),
      field('background', 'auto'),
      field('output_format', 'webp'),
      field('response_format', 'b64_json'),
      field('user', 'u'),
      field('partial_images', '3'),
    ]);
    expect(req.options).toEqual({ moderation: 'low', input_fidelity: 'high', quality: 'medium', background: 'auto', output_format: 'webp' });
    expect(req.ignoredParams).toEqual(['partial_images', 'user']);
  });

  it('reads and discards a markup file, takes svg[...] parts as the svg object, and names both as ignored', async () => {
    const req = await parse([
      file('image', PNG),
      PROMPT,
      file('markup', PNG),
      field('svg[model]', 'x'),
      field('svg[reasoning][effort]', 'low'),
      field('quality', 'hd'),
    ]);
    expect(req.images).toHaveLength(1);
    expect(req.options).toEqual({ quality: 'high' });
    expect(req.ignoredParams).toEqual(['markup', 'svg']);
    expect(req.mappedParams).toEqual(['quality']);
    expect(await readdir(dir)).toHaveLength(1); // only the image was spooled
  });

  it('strict field policy: a markup file is refused before it is read', async () => {
    limits = { ...limits, fieldPolicy: 'strict' };
    expect(await errorOf([PROMPT, file('markup', PNG), file('image', PNG)])).toMatchObject({ code: 'unsupported_field', param: 'markup' });
    expect(await readdir(dir)).toHaveLength(0);
  });
});

describe('parseImageMultipart: rejections', () => {
  const withImage = (...extra: MultipartPart[]) => [file('image', PNG), PROMPT, ...extra];
  it.each([
    ['n 2.0', withImage(field('n', '2.0')), 'invalid_request', 'n must be an integer', 'n'],
    ['n -1', withImage(field('n', '-1')), 'invalid_request', 'n must be an integer', 'n'],
    ['n 1e0', withImage(field('n', '1e0')), 'invalid_request', 'n must be an integer', 'n'],
    ['n " 2"', withImage(field('n', ' 2')), 'invalid_request', 'n must be an integer', 'n'],
    ['n 0', withImage(field('n', '0')), 'invalid_request', 'n must be between 1 and 10', 'n'],
    ['n 11', withImage(field('n', '11')), 'invalid_request', 'n must be between 1 and 10', 'n'],
    ['svg as plain text (not an object)', withImage(field('svg', 'x')), 'invalid_request', 'svg must be an object', 'svg'],
    [
      'output_compression 100.0',
      withImage(field('output_compression', '100.0')),
      'invalid_request',
      'output_compression must be an integer',
      'output_compression',
    ],
    ['stream TRUE', withImage(field('stream', 'TRUE')), 'invalid_request', 'stream must be a boolean', 'stream'],
    ['stream 1', withImage(field('stream', '1')), 'invalid_request', 'stream must be a boolean', 'stream'],
    ['prompt twice', withImage(field('prompt', 'again')), 'invalid_request', 'prompt must be given once', 'prompt'],
    ['unknown text fields, sorted', withImage(field('zeta', '1'), field('styles', 'vivid')), 'unknown_field', 'unknown field `styles`', 'styles'],
    ['images as a text field', withImage(field('images', 'https://example.com/a.png')), 'unknown_field', 'unknown field `images`', 'images'],
    ['image as a text field', withImage(field('image', 'https://example.com/a.png')), 'invalid_request', 'image must be a file upload', 'image'],
    ['mask as a text field', withImage(field('mask', 'x')), 'invalid_request', 'mask must be a file upload', 'mask'],
    ['a JSON-typed prompt that is not a string', [file('image', PNG), field('prompt', { text: 'x' })], 'invalid_request', 'prompt must be a string', 'prompt'],
    ['mask twice', [PROMPT, file('mask', PNG), file('mask', PNG)], 'invalid_request', 'mask must be given once', 'mask'],
    ['an unknown file field', [PROMPT, file('image', PNG), file('photo', PNG)], 'unknown_field', 'unknown field `photo`', 'photo'],
    ['image[N] twice', [PROMPT, file('image[1]', PNG), file('image[1]', PNG)], 'invalid_request', 'image[1] must be given once', 'image[1]'],
    [
      'image[] mixed with image[N]',
      [PROMPT, file('image[0]', PNG), file('image[]', PNG)],
      'invalid_request',
      'image files must all be named image/image[] or all image[N]',
      'image',
    ],
    ['image[01] (leading zero)', [PROMPT, file('image[01]', PNG)], 'unknown_field', 'unknown field `image[01]`', 'image[01]'],
    [
      'a non-image file',
      [PROMPT, file('image[]', Buffer.from('plain text, not an image'))],
      'invalid_image',
      'image[] is not a valid PNG, JPEG or WebP image',
      'image[]',
    ],
  ] as const)('%s (and leaves no spooled file)', async (_label, parts, code, message, param) => {
    expect(await errorOf([...parts])).toEqual({ code, message, param });
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    ['no file at all', [PROMPT]],
    ['only a mask', [PROMPT, file('mask', PNG)]],
  ])('requires an image: %s', async (_label, parts) => {
    expect(await errorOf(parts)).toEqual({ code: 'invalid_request', message: 'image is required', param: 'image' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('checks text fields before the image requirement', async () => {
    expect((await errorOf([PROMPT, field('n', '11')])).param).toBe('n');
  });

  it('stops at the configured number of images before spooling the next one', async () => {
    const extra: MultipartPart = file('image[]', PNG);
    const parts = [PROMPT, ...Array.from({ length: 5 }, () => file('image[]', PNG)), extra];
    expect(await errorOf(parts)).toEqual({ code: 'invalid_request', message: 'image must contain between 1 and 5 files', param: 'image' });
    expect(extra.type === 'file' && extra.file.destroyed).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('returns 413 on a file over the per-file limit and on uploads over the total, leaving no files', async () => {
    expect(await errorOf([PROMPT, file('image', padImage(PNG, 1_000_001))])).toEqual({
      code: 'body_too_large',
      message: 'image is larger than 1000000 bytes',
      param: 'image',
    });
    expect(await readdir(dir)).toEqual([]);
    const big = padImage(PNG, 900_000);
    expect(await errorOf([PROMPT, file('image[]', big), file('image[]', big), file('image[]', big)])).toEqual({
      code: 'body_too_large',
      message: 'uploads are larger than 2500000 bytes in total',
      param: 'image[]',
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('rejects a text value the multipart parser truncated', async () => {
    const parts: MultipartPart[] = [file('image', PNG), { type: 'field', fieldname: 'prompt', value: 'cut', valueTruncated: true }];
    expect(await errorOf(parts)).toEqual({ code: 'body_too_large', message: 'prompt is too long', param: 'prompt' });
  });

  it('cleans up and rethrows when the part iterator fails (client abort, FST_REQ_FILE_TOO_LARGE)', async () => {
    const abort = Object.assign(new Error('file too large'), { code: 'FST_REQ_FILE_TOO_LARGE' });
    await expect(parse([PROMPT, file('image[]', PNG), file('image[]', PNG)], abort)).rejects.toBe(abort);
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves the files of a successful parse to the caller until cleanup', async () => {
    await parse([PROMPT, file('image', PNG), file('mask', PNG)]);
    expect(await readdir(dir)).toHaveLength(2);
    await spool.cleanup();
    expect(await readdir(dir)).toEqual([]);
  });
});
