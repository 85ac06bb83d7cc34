import { deflateSync } from 'node:zlib';

/** Small real image bytes for tests: a valid PNG generator and JPEG/WebP signature fixtures. */

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** The 8-byte PNG signature. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A valid RGBA PNG of `width` x `height` (decodable by any image library): a gradient so the
 * bytes are not all equal. Keep sizes small; the pixels are built in memory.
 */
export function makePng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit depth, RGBA, deflate, adaptive filter, no interlace
  const rowBytes = 1 + width * 4;
  const raw = Buffer.alloc(rowBytes * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) raw.set([x & 0xff, y & 0xff, (x + y) & 0xff, 0xff], y * rowBytes + 1 + x * 4);
  }
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** The start of a JFIF JPEG (SOI + APP0 segment): enough for a magic-byte check, not a decodable image. */
export function makeJpegHeader(): Buffer {
  return Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
}

/** The start of a lossless WebP (RIFF header + VP8L chunk header): enough for a magic-byte check. */
export function makeWebpHeader(): Buffer {
  const header = Buffer.alloc(20);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(12, 4);
  header.write('WEBP', 8, 'latin1');
  header.write('VP8L', 12, 'latin1');
  header.writeUInt32LE(0, 16);
  return header;
}

/** `bytes` as a base64 data URL of the declared `subtype` (png, jpeg, jpg, webp, or anything to test rejections). */
export function toDataUrl(subtype: string, bytes: Uint8Array): string {
  return `data:image/${subtype};base64,${Buffer.from(bytes).toString('base64')}`;
}

/** `totalBytes` bytes that start with `head` and continue with a deterministic pattern (large upload bodies). */
export function padImage(head: Uint8Array, totalBytes: number): Buffer {
  const out = Buffer.alloc(totalBytes);
  for (let i = 0; i < totalBytes; i += 1) out[i] = (i * 31 + 7) & 0xff;
  out.set(head.subarray(0, totalBytes));
  return out;
}
