import { GatewayError } from '../errors/codes.js';
import type { ImageMime } from './image-request.js';
import { SNIFF_HEAD_BYTES, sniffImageType } from './sniff-image-type.js';

/** The data URL prefixes accepted for input images (case-insensitive), and the type each declares. */
export const DATA_URL_PREFIX = /^data:image\/(png|jpeg|jpg|webp);base64,/i;
/** Length of the longest prefix DATA_URL_PREFIX accepts (`data:image/jpeg;base64,`). */
export const MAX_DATA_URL_PREFIX_CHARS = 23;

const DECLARED_MIME = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  webp: 'image/webp',
} as const satisfies Record<string, ImageMime>;

/** The type a DATA_URL_PREFIX match declares (jpg normalised to image/jpeg). */
export const declaredMime = (prefix: RegExpExecArray): ImageMime => DECLARED_MIME[(prefix[1] ?? '').toLowerCase() as keyof typeof DECLARED_MIME];

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
  const declared = declaredMime(prefix);
  const start = prefix[0].length;
  const dataChars = countBase64Chars(url, start);
  const head = dataChars < 0 ? Buffer.alloc(0) : Buffer.from(url.slice(start, start + Math.min(SNIFF_HEAD_CHARS, dataChars)), 'base64');
  if (sniffImageType(head) !== declared) throw buildInvalidImageError(param);
  return { mime: declared, bytes: Math.floor((dataChars * 3) / 4) };
}

/** The one error for an image reference whose data is not a PNG, JPEG or WebP of its declared type. */
export const buildInvalidImageError = (param: string): GatewayError =>
  new GatewayError('invalid_image', `${param} is not a valid PNG, JPEG or WebP image`, param);

/** Number of base64 alphabet characters from `start` to the padding, or -1 when the payload is not strict base64. */
function countBase64Chars(text: string, start: number): number {
  const nonAlphabet = /[^A-Za-z0-9+/]/g;
  nonAlphabet.lastIndex = start;
  const dataEnd = nonAlphabet.exec(text)?.index ?? text.length;
  const padding = text.length - dataEnd;
  const dataChars = dataEnd - start;
  if (padding > 2 || text.slice(dataEnd) !== '='.repeat(padding)) return -1;
  return isBase64LengthValid(dataChars, padding) ? dataChars : -1;
}

/**
 * The length rule of strict base64: padded to a multiple of 4, or unpadded with a length that is
 * not 1 more than a multiple of 4 (a lone trailing character encodes no whole byte).
 */
export const isBase64LengthValid = (dataChars: number, padding: number): boolean => (padding === 0 ? dataChars % 4 !== 1 : (dataChars + padding) % 4 === 0);
