import type { ImageMime } from './image-request.js';

/** How many leading bytes `sniffImageType` needs to decide (WebP is the longest signature). */
export const SNIFF_HEAD_BYTES = 12;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff] as const;
const RIFF = [0x52, 0x49, 0x46, 0x46] as const; // 'RIFF'
const WEBP = [0x57, 0x45, 0x42, 0x50] as const; // 'WEBP', at offset 8

const hasBytesAt = (head: Uint8Array, offset: number, bytes: readonly number[]): boolean =>
  head.length >= offset + bytes.length && bytes.every((b, i) => head[offset + i] === b);

/**
 * Identifies a PNG, JPEG or WebP image from its first bytes (magic numbers), never from a file
 * name or a declared type, which clients get wrong or forge. Returns null for anything else,
 * including a head too short to tell.
 */
export function sniffImageType(head: Uint8Array): ImageMime | null {
  if (hasBytesAt(head, 0, PNG_SIGNATURE)) return 'image/png';
  if (hasBytesAt(head, 0, JPEG_SIGNATURE)) return 'image/jpeg';
  if (hasBytesAt(head, 0, RIFF) && hasBytesAt(head, 8, WEBP)) return 'image/webp';
  return null;
}
