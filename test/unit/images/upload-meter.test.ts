import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors/codes.js';
import { UploadMeter } from '../../../src/images/upload-meter.js';
import { makeJpegHeader, makePng, makeWebpHeader } from '../../support/images.js';

const sink = () => new Writable({ write: (_chunk, _enc, cb) => cb() });
const chunksOf = (bytes: Buffer, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

async function meter(chunks: Buffer[], maxFileBytes = 1_000_000, reserveBytes: (n: number) => void = () => undefined) {
  const m = new UploadMeter({ field: 'image[]', maxFileBytes, reserveBytes });
  await pipeline(Readable.from(chunks), m, sink());
  return m;
}

describe('UploadMeter', () => {
  it.each([
    ['a PNG in one chunk', [makePng(5, 5)], 'image/png'],
    ['a PNG one byte per chunk', chunksOf(makePng(2, 2), 1), 'image/png'],
    ['a WebP split across the signature', chunksOf(makeWebpHeader(), 5), 'image/webp'],
    ['a 3-byte JPEG', [makeJpegHeader().subarray(0, 3)], 'image/jpeg'],
  ])('counts and identifies %s', async (_label, chunks, mime) => {
    const m = await meter(chunks);
    expect(m.mime).toBe(mime);
    expect(m.bytes).toBe(Buffer.concat(chunks).length);
  });

  it.each([
    ['empty', []],
    ['two bytes', [Buffer.from([0xff, 0xd8])]],
    ['text', [Buffer.from('this is not an image at all')]],
  ])('rejects %s as invalid_image', async (_label, chunks) => {
    await expect(meter(chunks)).rejects.toMatchObject({ code: 'invalid_image', param: 'image[]', message: 'image[] is not a valid PNG, JPEG or WebP image' });
  });

  it('accepts exactly maxFileBytes and rejects one more', async () => {
    const png = makePng(4, 4);
    expect((await meter([png], png.length)).bytes).toBe(png.length);
    await expect(meter([png], png.length - 1)).rejects.toMatchObject({
      code: 'body_too_large',
      message: `image[] is larger than ${png.length - 1} bytes`,
      param: 'image[]',
    });
  });

  it('fails when the shared budget says no, after reserving what passed', async () => {
    let reserved = 0;
    const reserve = (n: number) => {
      if (reserved + n > 100) throw new GatewayError('body_too_large', 'uploads are larger than 100 bytes in total', 'image[]');
      reserved += n;
    };
    await expect(meter(chunksOf(makePng(8, 8), 40), 1_000_000, reserve)).rejects.toMatchObject({ message: 'uploads are larger than 100 bytes in total' });
    expect(reserved).toBe(80);
  });
});
