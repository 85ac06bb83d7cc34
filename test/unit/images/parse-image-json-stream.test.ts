import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGatewayError } from '../../../src/errors/codes.js';
import type { ImageEndpoint, ImageInput, ImageRequest } from '../../../src/images/image-request.js';
import { createImageSpool, type ImageSpool } from '../../../src/images/image-spool.js';
import { parseImageJson } from '../../../src/images/parse-image-json.js';
import { parseImageJsonStream } from '../../../src/images/parse-image-json-stream.js';
import { testImageLimits } from '../../support/image-limits.js';
import { makeJpegHeader, makePng, makeWebpHeader, padImage, toDataUrl } from '../../support/images.js';

const LIMITS = testImageLimits({ maxInputImages: 5 });
const PNG = makePng(3, 3);
const PNG_URL = toDataUrl('png', PNG);
const HTTPS = 'https://example.com/src.png';

let dir: string;
let spool: ImageSpool;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-json-stream-'));
  spool = createImageSpool({ dir, maxFileBytes: 64 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024 });
});
afterEach(async () => {
  await spool.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** The body cut at `cuts` (byte offsets), as a stream of chunks. */
async function* chunksOf(body: Buffer, cuts: readonly number[] = []): AsyncGenerator<Buffer> {
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    yield body.subarray(from, cut);
    from = cut;
  }
}

async function readAll(input: ImageInput): Promise<Buffer> {
  if (input.kind !== 'spooled') throw new Error(`not spooled: ${input.kind}`);
  const chunks: Buffer[] = [];
  for await (const chunk of input.file.openRaw()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An outcome both parsers can be compared on: the error, or the request with each image as kind-free {mime, bytes, data}. */
async function outcomeOf(parse: () => Promise<ImageRequest>): Promise<unknown> {
  try {
    const req = await parse();
    const image = async (input: ImageInput | null) => {
      if (input === null || input.kind === 'url') return input;
      const data = input.kind === 'inline' ? Buffer.from(input.dataUrl.slice(input.dataUrl.indexOf(',') + 1), 'base64') : await readAll(input);
      return { mime: input.mime, bytes: input.bytes, data: data.toString('hex') };
    };
    return { ...req, images: await Promise.all(req.images.map(image)), mask: await image(req.mask) };
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, message: err.message, param: err.param };
    throw err;
  }
}

const streamed = (endpoint: ImageEndpoint, body: string | Buffer, cuts: readonly number[] = [], spillBytes = 0) =>
  outcomeOf(() => parseImageJsonStream(endpoint, chunksOf(Buffer.from(body), cuts), { ...LIMITS, spool, spillBytes }));
const whole = (endpoint: ImageEndpoint, body: string | Buffer) => outcomeOf(async () => parseImageJson(endpoint, Buffer.from(body).toString('utf8'), LIMITS));

const edit = (extra: Record<string, unknown> = {}) => JSON.stringify({ prompt: 'add a hat', images: [PNG_URL], ...extra });
const JPEG_URL = toDataUrl('jpg', makeJpegHeader());
const WEBP_URL = toDataUrl('webp', makeWebpHeader());

/** Bodies whose outcome must be the same streamed or whole: every accepted form and every error. */
const CORPUS: readonly [string, ImageEndpoint, string][] = [
  ['a plain edit', 'edits', edit()],
  [
    'every image form and a mask',
    'edits',
    edit({ images: [PNG_URL, { image_url: HTTPS }, JPEG_URL, { image_url: WEBP_URL }, HTTPS], mask: { image_url: PNG_URL } }),
  ],
  ['a string mask', 'edits', edit({ mask: WEBP_URL })],
  ['unpadded base64', 'edits', edit({ images: [PNG_URL.replace(/=+$/, '')] })],
  ['upper-case prefix', 'edits', edit({ images: [PNG_URL.replace('data:image/png', 'DATA:IMAGE/PNG')] })],
  ['escaped slashes', 'edits', edit().replaceAll('/', '\\/')],
  ['unicode escapes in prefix and payload', 'edits', edit().replace('data:', '\\u0064ata:').replace('base64,iVBOR', 'base64,\\u0069VBOR')],
  ['a duplicate images key (last wins)', 'edits', `{"prompt":"p","images":["${JPEG_URL}"],"images":["${PNG_URL}"]}`],
  ['a duplicate image_url key', 'edits', `{"prompt":"p","images":[{"image_url":"${JPEG_URL}","image_url":"${PNG_URL}"}]}`],
  ['generations', 'generations', JSON.stringify({ prompt: 'a fox', n: 2, size: '1024x1024' })],
  ['generations with images (unknown there)', 'generations', JSON.stringify({ prompt: 'a fox', images: [PNG_URL] })],
  ['n: 2.0', 'edits', edit({ n: 2 }).replace('"n":2', '"n":2.0')],
  ['empty body', 'edits', ''],
  ['truncated inside an image', 'edits', edit().slice(0, 60)],
  ['truncated after an image', 'edits', edit().slice(0, -1)],
  ['trailing garbage', 'edits', `${edit()}x`],
  ['a bad escape inside an image', 'edits', edit().replace('base64,iVBOR', 'base64,iV\\xBOR')],
  ['a raw newline inside an image', 'edits', edit().replace('base64,iVBOR', 'base64,iV\nBOR')],
  ['a raw tab inside an http URL', 'edits', edit({ images: ['https://example.com/a\tb.png'] })],
  ['an escaped newline inside an image', 'edits', edit().replace('base64,iVBOR', 'base64,iV\\nBOR')],
  ['a __proto__ key', 'edits', `{"prompt":"p","images":["${PNG_URL}"],"__proto__":{"x":1}}`],
  ['a __proto__ key in an image object', 'edits', `{"prompt":"p","images":[{"image_url":"${PNG_URL}","__proto__":{}}]}`],
  ['a constructor.prototype key', 'edits', `{"prompt":"p","images":["${PNG_URL}"],"constructor":{"prototype":{"x":1}}}`],
  ['not an object', 'edits', `["${PNG_URL}"]`],
  ['images not an array', 'edits', edit({ images: PNG_URL })],
  ['images an object', 'edits', edit({ images: { image_url: PNG_URL } })],
  ['too many images', 'edits', edit({ images: Array(6).fill(PNG_URL) })],
  ['a number image', 'edits', edit({ images: [7] })],
  ['an image object with two keys', 'edits', edit({ images: [{ image_url: PNG_URL, detail: 'high' }] })],
  ['file_id', 'edits', edit({ images: [{ file_id: 'file-1' }] })],
  ['PNG declared webp', 'edits', edit({ images: [HTTPS, toDataUrl('webp', PNG)] })],
  ['JPEG declared png mask', 'edits', edit({ mask: toDataUrl('png', makeJpegHeader()) })],
  ['bad base64', 'edits', edit({ images: [`${PNG_URL.slice(0, 40)}*${PNG_URL.slice(41)}`] })],
  ['three = of padding', 'edits', edit({ images: [`${toDataUrl('png', PNG.subarray(0, 40))}=`] })],
  ['data after padding', 'edits', edit({ images: [`${toDataUrl('png', PNG.subarray(0, 40))}AA`] })],
  ['a lone trailing character', 'edits', edit({ images: [`${toDataUrl('png', PNG.subarray(0, 42))}A`] })],
  ['an empty payload', 'edits', edit({ images: ['data:image/png;base64,'] })],
  ['a text data URL', 'edits', edit({ images: ['data:text/plain;base64,aGk='] })],
  ['a relative URL', 'edits', edit({ images: ['./a.png'] })],
  ['an invalid size before a bad image', 'edits', edit({ size: 'huge', images: ['data:image/png;base64,AAAA'] })],
  ['a bad image before a bad mask', 'edits', edit({ images: ['data:image/png;base64,AAAA'], mask: 'nope' })],
  ['a non-ASCII prompt', 'edits', edit({ prompt: 'ein Fuchs 🦊 über' })],
  ['nesting deeper than the lexer tracks', 'edits', `{"svg":${'['.repeat(300)}${']'.repeat(300)},"prompt":"p","images":["${PNG_URL}"]}`],
];

describe('parseImageJsonStream: the same outcome as parseImageJson on the whole text', () => {
  it.each(CORPUS)('%s', async (_label, endpoint, body) => {
    expect(await streamed(endpoint, body)).toEqual(await whole(endpoint, body));
  });

  it.each(CORPUS)('%s, held in memory below the spill size', async (_label, endpoint, body) => {
    expect(await streamed(endpoint, body, [], 1 << 20)).toEqual(await whole(endpoint, body));
  });

  it('gives the same outcome for every split of the body into two chunks, and into single bytes', async () => {
    for (const body of [
      edit({ images: [PNG_URL, { image_url: JPEG_URL }], mask: WEBP_URL, n: 2 }),
      edit().replaceAll('/', '\\/').replace('data:', '\\u0064ata:'),
    ]) {
      const expected = await whole('edits', body);
      for (let cut = 1; cut < body.length; cut += 1) expect(await streamed('edits', body, [cut]), `cut at ${cut}`).toEqual(expected);
      expect(
        await streamed(
          'edits',
          body,
          Array.from({ length: body.length - 1 }, (_, i) => i + 1),
        ),
      ).toEqual(expected);
    }
  });

  it('gives the same error for every split of a body with a bad image', async () => {
    for (const body of [
      edit({ images: [toDataUrl('webp', PNG)] }),
      edit().replace('base64,iVBOR', 'base64,iV\nBOR'),
      edit().replace('base64,iVBOR', 'base64,iV\\xBOR'),
    ]) {
      const expected = await whole('edits', body);
      for (let cut = 1; cut < body.length; cut += 1) expect(await streamed('edits', body, [cut]), `cut at ${cut}`).toEqual(expected);
    }
  });
});

describe('parseImageJsonStream: images are spooled, not held', () => {
  it('spools a long data URL and an image_url one with their exact bytes, and keeps short ones inline', async () => {
    const big = padImage(PNG, 3 * 1024 * 1024 + 1);
    const body = JSON.stringify({ prompt: 'p', images: [toDataUrl('png', big), { image_url: PNG_URL }], mask: { image_url: toDataUrl('png', big) } });
    const req = await parseImageJsonStream('edits', chunksOf(Buffer.from(body), [100, 70_000, 2_000_001]), { ...LIMITS, spool });
    expect(req.images[0]).toMatchObject({ kind: 'spooled', mime: 'image/png', bytes: big.length });
    expect((await readAll(req.images[0]!)).equals(big)).toBe(true);
    expect(req.images[1]).toEqual({ kind: 'inline', mime: 'image/png', bytes: PNG.length, dataUrl: PNG_URL });
    expect((await readAll(req.mask!)).equals(big)).toBe(true);
    expect(await readdir(dir)).toHaveLength(2);
  });

  it('never writes an image to disk in clear', async () => {
    const big = padImage(PNG, 200_000);
    const req = await parseImageJsonStream('edits', chunksOf(Buffer.from(edit({ images: [toDataUrl('png', big)] }))), { ...LIMITS, spool });
    const { readFile } = await import('node:fs/promises');
    const onDisk = await readFile((req.images[0] as Extract<ImageInput, { kind: 'spooled' }>).file.path);
    expect(onDisk.length).toBe(big.length);
    expect(onDisk.includes(big.subarray(0, 64))).toBe(false);
  });

  it('deletes what it spooled when the body fails, and rethrows the body error', async () => {
    const big = toDataUrl('png', padImage(PNG, 300_000));
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from(`{"prompt":"p","images":["${big}","${big.slice(0, 200_000)}`);
      throw new Error('client went away');
    }
    await expect(parseImageJsonStream('edits', failing(), { ...LIMITS, spool })).rejects.toThrow('client went away');
    expect(await readdir(dir)).toEqual([]);
  });

  it('deletes what it spooled when the request is invalid', async () => {
    const body = edit({ images: [toDataUrl('png', padImage(PNG, 300_000))], size: 'huge' });
    expect(await streamed('edits', body, [], 1024)).toMatchObject({ code: 'unsupported_value', param: 'size' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops spooling an image at its first bad byte', async () => {
    const body = edit({ images: [toDataUrl('webp', padImage(PNG, 2_000_000))] });
    expect(await streamed('edits', body, [], 1024)).toEqual({
      code: 'invalid_image',
      message: 'images[0] is not a valid PNG, JPEG or WebP image',
      param: 'images[0]',
    });
    expect(await readdir(dir)).toEqual([]);
  });
});
