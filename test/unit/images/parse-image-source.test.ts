import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../../../src/errors/codes.js';
import { parseImageSource } from '../../../src/images/parse-image-source.js';
import { makeJpegHeader, makePng, toDataUrl } from '../../support/images.js';

const PNG_URL = toDataUrl('png', makePng(2, 2));
const JPG_URL = toDataUrl('jpg', makeJpegHeader());

function errorOf(value: unknown, param = 'images[0]') {
  try {
    parseImageSource(value, param);
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, message: err.message, param: err.param };
    throw err;
  }
  throw new Error('expected a GatewayError');
}

const SHAPE = 'image source must be a string or {"image_url": ...}';
const NOT_URL = 'image source must be an http(s) URL or supported image data URL';

describe('parseImageSource', () => {
  it.each([
    ['an https URL string', 'https://example.com/src.webp', { kind: 'url', url: 'https://example.com/src.webp' }],
    ['an http URL string', 'http://10.0.0.1:8080/a.png?x=1', { kind: 'url', url: 'http://10.0.0.1:8080/a.png?x=1' }],
    ['an upper-case scheme', 'HTTPS://EXAMPLE.COM/a.png', { kind: 'url', url: 'HTTPS://EXAMPLE.COM/a.png' }],
    ['an image_url object', { image_url: 'https://example.com/a.png' }, { kind: 'url', url: 'https://example.com/a.png' }],
    ['a PNG data URL', PNG_URL, { kind: 'inline', mime: 'image/png', bytes: makePng(2, 2).length, dataUrl: PNG_URL }],
    ['a jpg data URL, kept as sent', { image_url: JPG_URL }, { kind: 'inline', mime: 'image/jpeg', bytes: makeJpegHeader().length, dataUrl: JPG_URL }],
  ])('accepts %s', (_label, value, expected) => expect(parseImageSource(value, 'images[0]')).toEqual(expected));

  it.each([
    ['a file_id object', { file_id: 'file-abc' }],
    ['file_id next to image_url', { image_url: 'https://example.com/a.png', file_id: 'file-abc' }],
  ])('rejects %s with file_id_not_supported', (_label, value) => {
    expect(errorOf(value, 'mask')).toEqual({
      code: 'file_id_not_supported',
      message: 'file_id image references are not supported; send the image as a data URL or upload it as multipart',
      param: 'mask',
    });
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['an array', ['https://example.com/a.png']],
    ['an empty object', {}],
    ['image_url that is not a string', { image_url: { url: 'https://example.com/a.png' } }],
    ['image_url with an extra key', { image_url: 'https://example.com/a.png', detail: 'high' }],
    ['a url key (wrong name)', { url: 'https://example.com/a.png' }],
  ])('rejects %s as the wrong shape', (_label, value) => {
    expect(errorOf(value, 'images[3]')).toEqual({ code: 'invalid_request', message: SHAPE, param: 'images[3]' });
  });

  it.each([
    'file:///etc/passwd',
    './a.png',
    'ftp://example.com/a.png',
    'https://',
    'http:example.com/a.png',
    ' https://example.com/a.png',
    'data:text/plain;base64,aGVsbG8=',
    'data:image/svg+xml;base64,PHN2Zz4=',
    '',
    'javascript:alert(1)',
  ])('rejects %j as not an http(s) or image data URL', (value) => {
    expect(errorOf(value)).toEqual({ code: 'invalid_image', message: NOT_URL, param: 'images[0]' });
    expect(errorOf({ image_url: value })).toEqual({ code: 'invalid_image', message: NOT_URL, param: 'images[0]' });
  });

  it('never quotes the URL or the data in a message', () => {
    for (const value of ['https://secret.example/private.png?token=abc', 'data:image/png;base64,c2VjcmV0', 'secret-path.png']) {
      const { message } = errorOf(value.startsWith('https') ? { image_url: value, extra: 1 } : value);
      for (const leak of ['secret', 'private', 'token', 'c2Vj']) expect(message).not.toContain(leak);
    }
  });
});
