import { GatewayError } from '../errors/codes.js';
import type { ImageMime } from './image-request.js';
import { SNIFF_HEAD_BYTES, sniffImageType } from './sniff-image-type.js';

/** The data URL prefixes accepted for input images (case-insensitive), and the type each declares. */
export const DATA_URL_PREFIX = /^data:image\/(png|jpeg|jpg|webp);base64,/i;

const DECLARED_MIME = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  webp: 'image/webp',
} as const satisfies Record<string, ImageMime>;

/** Base64 characters needed to decode SNIFF_HEAD_BYTES (4 characters per 3 bytes). */
const SNIFF_HEAD_CHARS = Math.ceil(SNIFF_HEAD_BYTES / 3) * 4;

/** A checked data URL: the declared type (jpg normalised to image/jpeg) and the decoded length. */
export interface ImageDataUrl {
  mime: ImageMime;
  bytes: number;
}

/**
 * Checks a `data:image/(png|jpeg|jpg|webp);base64,…` URL without decoding all of it: the payload
 * must be strict base64 (alphabet only, no whitespace, at most two `=` of padding, padded to a
 * multiple of 4 or unpadded with a valid length), its first bytes must be a PNG/JPEG/WebP signature
 * of the declared family, and the decoded length is computed arithmetically. Only the first 16
 * characters are decoded, so a 50 MB image costs one regex scan and no copy.
 * Returns null when the string is not a supported data URL at all.
 * @throws GatewayError('invalid_image', '<param> is not a valid PNG, JPEG or WebP image', param)
 */
export function parseImageDataUrl(url: string, param: string): ImageDataUrl | null {
  const prefix = DATA_URL_PREFIX.exec(url);
  if (prefix === null) return null;
  const declared = DECLARED_MIME[(prefix[1] ?? '').toLowerCase() as keyof typeof DECLARED_MIME];
  const start = prefix[0].length;
  const dataChars = countBase64Chars(url, start);
  const head = dataChars < 0 ? Buffer.alloc(0) : Buffer.from(url.slice(start, start + Math.min(SNIFF_HEAD_CHARS, dataChars)), 'base64');
  if (sniffImageType(head) !== declared) {
    throw new GatewayError('invalid_image', `${param} is not a valid PNG, JPEG or WebP image`, param);
  }
  return { mime: declared, bytes: Math.floor((dataChars * 3) / 4) };
}

/** Number of base64 alphabet characters from `start` to the padding, or -1 when the payload is not strict base64. */
function countBase64Chars(text: string, start: number): number {
  const nonAlphabet = /[^A-Za-z0-9+/]/g;
  nonAlphabet.lastIndex = start;
  const dataEnd = nonAlphabet.exec(text)?.index ?? text.length;
  const padding = text.length - dataEnd;
  const dataChars = dataEnd - start;
  if (padding > 2 || text.slice(dataEnd) !== '='.repeat(padding)) return -1;
  const lengthOk = padding === 0 ? dataChars % 4 !== 1 : (dataChars + padding) % 4 === 0;
  return lengthOk ? dataChars : -1;
}
