import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors/codes.js';
import { parseImageDataUrl } from '../../../src/images/parse-image-data-url.js';
import { makeJpegHeader, makePng, makeWebpHeader, toDataUrl } from '../../support/images.js';

const png = makePng(4, 4);
const pngB64 = png.toString('base64');

describe('parseImageDataUrl', () => {
  it.each([
    ['png', toDataUrl('png', png), 'image/png', png.length],
    ['jpeg', toDataUrl('jpeg', makeJpegHeader()), 'image/jpeg', makeJpegHeader().length],
    ['jpg (normalised to image/jpeg)', toDataUrl('jpg', makeJpegHeader()), 'image/jpeg', makeJpegHeader().length],
    ['webp', toDataUrl('webp', makeWebpHeader()), 'image/webp', makeWebpHeader().length],
    ['an upper-case prefix', `DATA:IMAGE/PNG;BASE64,${pngB64}`, 'image/png', png.length],
    ['base64 that needs no padding (102 bytes)', `data:image/png;base64,${pngB64}`, 'image/png', 102],
  ])('accepts %s with its decoded length', (_label, url, mime, bytes) => {
    expect(parseImageDataUrl(url, 'images[0]')).toEqual({ mime, bytes });
  });

  it.each([1, 2, 3, 4, 5, 6, 7])('computes the decoded length of a %i-byte tail exactly', (extra) => {
    const bytes = Buffer.concat([png, Buffer.alloc(extra, 0x41)]);
    const padded = toDataUrl('png', bytes);
    expect(parseImageDataUrl(padded, 'mask')?.bytes).toBe(bytes.length);
    expect(parseImageDataUrl(padded.replace(/=+$/, ''), 'mask')?.bytes).toBe(bytes.length);
  });

  it.each([
    'https://example.com/a.png',
    'data:text/plain;base64,aGVsbG8=',
    'data:image/gif;base64,R0lGODlh',
    'data:image/png,rawbytes',
    'data:image/png;charset=utf-8;base64,iVBORw0KGgo=',
    ' data:image/png;base64,iVBORw0KGgo=',
  ])('returns null for a string that is not a supported data URL: %s', (url) => {
    expect(parseImageDataUrl(url, 'images[0]')).toBeNull();
  });

  it.each([
    ['PNG bytes declared webp', toDataUrl('webp', png)],
    ['PNG bytes declared jpeg', toDataUrl('jpeg', png)],
    ['JPEG bytes declared png', toDataUrl('png', makeJpegHeader())],
    ['text declared png', toDataUrl('png', Buffer.from('hello, this is not an image'))],
    ['an empty payload', 'data:image/png;base64,'],
    ['whitespace inside base64', `data:image/png;base64,${pngB64.slice(0, 8)} ${pngB64.slice(8)}`],
    ['a newline inside base64', `data:image/png;base64,${pngB64.slice(0, 8)}\n${pngB64.slice(8)}`],
    ['base64url characters', `data:image/png;base64,${pngB64.slice(0, 20)}-_${pngB64.slice(22)}`],
    ['a non-alphabet character at the end', `data:image/png;base64,${pngB64}!`],
    ['three padding characters', `data:image/png;base64,${pngB64.replace(/=*$/, '')}===`],
    ['padding in the middle', `data:image/png;base64,${pngB64.slice(0, 16)}==${pngB64.slice(16)}`],
    ['a padded length not a multiple of 4', `data:image/png;base64,${pngB64.replace(/=*$/, '')}A=`],
    ['an impossible unpadded length (4k+1)', `data:image/png;base64,${pngB64.replace(/=*$/, '').slice(0, 17)}`],
  ])('rejects %s as invalid_image without quoting the data', (_label, url) => {
    const err = catchError(() => parseImageDataUrl(url, 'images[2]'));
    expect(err).toMatchObject({ code: 'invalid_image', param: 'images[2]', message: 'images[2] is not a valid PNG, JPEG or WebP image' });
  });

  it('decodes only the head: a 40 MB payload is checked without a full decode', () => {
    const url = `data:image/png;base64,${pngB64.slice(0, 16)}${'A'.repeat(40 * 1024 * 1024)}`;
    const before = process.memoryUsage().arrayBuffers;
    expect(parseImageDataUrl(url, 'images[0]')?.bytes).toBe(((16 + 40 * 1024 * 1024) * 3) / 4);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(10 * 1024 * 1024);
  });
});

function catchError(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}
