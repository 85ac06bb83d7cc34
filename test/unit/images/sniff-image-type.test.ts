import { describe, expect, it } from 'vitest';
import { SNIFF_HEAD_BYTES, sniffImageType } from '../../../src/images/sniff-image-type.js';
import { makeJpegHeader, makePng, makeWebpHeader } from '../../support/images.js';

describe('sniffImageType', () => {
  it.each([
    ['a real PNG', makePng(2, 2), 'image/png'],
    ['just the PNG signature', makePng(1, 1).subarray(0, 8), 'image/png'],
    ['a JPEG header', makeJpegHeader(), 'image/jpeg'],
    ['the three JPEG magic bytes', Buffer.from([0xff, 0xd8, 0xff]), 'image/jpeg'],
    ['a WebP header', makeWebpHeader(), 'image/webp'],
    ['a WebP head of exactly SNIFF_HEAD_BYTES', makeWebpHeader().subarray(0, SNIFF_HEAD_BYTES), 'image/webp'],
  ])('recognises %s', (_label, head, mime) => expect(sniffImageType(head)).toBe(mime));

  it.each([
    ['empty', Buffer.alloc(0)],
    ['a PNG signature missing its last byte', makePng(1, 1).subarray(0, 7)],
    ['a PNG signature with one byte changed', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0b])],
    ['two JPEG bytes', Buffer.from([0xff, 0xd8])],
    ['RIFF that is not WEBP (WAVE)', Buffer.from('RIFF\x00\x00\x00\x00WAVEfmt ', 'latin1')],
    ['RIFF cut before WEBP', makeWebpHeader().subarray(0, 11)],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1')],
    ['text', Buffer.from('hello world!')],
    ['WEBP at the wrong offset', Buffer.from('RIFFWEBP\x00\x00\x00\x00', 'latin1')],
  ])('rejects %s', (_label, head) => expect(sniffImageType(head)).toBeNull());
});
