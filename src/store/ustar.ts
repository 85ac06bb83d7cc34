import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';

const BLOCK = 512;

/** Raised for a tar archive this reader does not accept (a damaged file, or a kind it never writes). */
export class UstarError extends Error {}

/**
 * Writes the regular files and directories of a POSIX ustar archive under `targetDir` (created by the
 * caller). Accepts only what `tar --format=ustar` writes for a plain tree: regular files (type 0) and
 * directories (type 5); links, devices and paths that leave `targetDir` are refused, and so is a
 * header whose checksum is wrong, so a truncated or foreign file fails loudly instead of half-working.
 * @returns the number of regular files written.
 */
export function extractUstar(archive: Buffer, targetDir: string): number {
  let files = 0;
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) return files; // end-of-archive marker
    verifyChecksum(header, offset);
    const name = readString(header, 0, 100);
    const prefix = readString(header, 345, 155);
    const path = safeRelativePath(prefix ? `${prefix}/${name}` : name);
    const size = readOctal(header, 124, 12, offset);
    const type = String.fromCharCode(header[156]!);
    const mode = readOctal(header, 100, 8, offset) & 0o777;
    offset += BLOCK;
    if (type === '5') {
      if (path !== '') mkdirSync(join(targetDir, path), { recursive: true, mode: mode | 0o700 });
    } else if (type === '0' || type === '\0') {
      if (offset + size > archive.length) throw new UstarError(`tar entry ${path} is truncated`);
      writeFileSync(join(targetDir, path), archive.subarray(offset, offset + size), { mode: mode | 0o600 });
      files += 1;
    } else {
      throw new UstarError(`tar entry ${path} has type '${type}'; only files and directories are expected`);
    }
    offset += Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new UstarError('tar archive ends without its end-of-archive marker');
}

function readString(header: Buffer, start: number, length: number): string {
  const field = header.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? length : end);
}

function readOctal(header: Buffer, start: number, length: number, at: number): number {
  const text = readString(header, start, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new UstarError(`tar header at byte ${at} has a malformed number field`);
  return Number.parseInt(text, 8);
}

/** The header checksum: the byte sum of the header with its own checksum field read as spaces. */
function verifyChecksum(header: Buffer, at: number): void {
  const stored = readOctal(header, 148, 8, at);
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  if (sum !== stored) throw new UstarError(`tar header at byte ${at} fails its checksum (a damaged archive)`);
}

/** The entry's path relative to the target, or a refusal when it would land outside it. */
function safeRelativePath(raw: string): string {
  const path = normalize(raw).replace(/\/$/, '');
  if (path === '.' || path === '') return '';
  if (isAbsolute(path) || path === '..' || path.startsWith(`..${sep}`)) throw new UstarError(`tar entry ${raw} points outside the target folder`);
  return path;
}
