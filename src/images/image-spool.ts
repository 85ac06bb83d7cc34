import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors/codes.js';
import type { ImageMime, SpooledFile } from './image-request.js';
import { UploadMeter } from './upload-meter.js';

/** Default spool directory name under the OS temp directory. */
export const SPOOL_DIR_NAME = 'codex-image-gateway-spool';

/**
 * Spool file names: `cig-<pid>-<uuid>.spool`. The pid tells a sweep at start whether the writer is
 * still alive (several gateway processes may share the directory).
 */
const SPOOL_FILE = /^cig-(\d+)-[0-9a-f-]{36}\.spool$/;
/** Names of spool files written before the pid was part of the name. */
const LEGACY_SPOOL_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.spool$/;
/** A spool file this old is left over whoever wrote it: no request holds an upload this long. */
export const SPOOL_STALE_MS = 24 * 60 * 60 * 1000;

/** The spool directory: the given one, else `os.tmpdir()/codex-image-gateway-spool`. */
export const resolveSpoolDir = (dir?: string): string => dir ?? join(tmpdir(), SPOOL_DIR_NAME);

/**
 * Deletes spool files a killed process left behind (a `kill -9` skips every request's cleanup):
 * ours whose writer pid is gone or which are older than {@link SPOOL_STALE_MS}. Files not named
 * like ours are kept. A missing directory is nothing to sweep.
 * @returns how many files were deleted.
 */
export async function sweepStaleSpoolFiles(dir?: string, now: number = Date.now()): Promise<number> {
  const root = resolveSpoolDir(dir);
  const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  let removed = 0;
  for (const name of names) {
    const own = SPOOL_FILE.exec(name);
    if (!own && !LEGACY_SPOOL_FILE.test(name)) continue;
    const path = join(root, name);
    const writerGone = own !== null && !isProcessAlive(Number(own[1]));
    const stale =
      writerGone ||
      now -
        (await stat(path).then(
          (s) => s.mtimeMs,
          () => now,
        )) >
        SPOOL_STALE_MS;
    if (!stale) continue;
    await rm(path, { force: true });
    removed += 1;
  }
  return removed;
}

function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const CIPHER = 'aes-256-ctr';
const KEY_BYTES = 32;
const IV_BYTES = 16;

/** Options of one spool (normally one per multipart request). */
export interface ImageSpoolOptions {
  /** Where temporary files go; default `os.tmpdir()/codex-image-gateway-spool`. */
  readonly dir?: string;
  /** Most bytes of one upload (MAX_UPLOAD_FILE_BYTES). */
  readonly maxFileBytes: number;
  /** Most bytes of all uploads together (MAX_UPLOAD_TOTAL_BYTES). */
  readonly maxTotalBytes: number;
}

/** A spooled upload and its sniffed type. */
export type SpooledImage = SpooledFile & { readonly mime: ImageMime };

/** Holds the uploads of one request in encrypted temporary files until `cleanup()`. */
export interface ImageSpool {
  /**
   * Streams `source` to a new encrypted temporary file. Bounded memory (the stream is piped).
   * On any failure the source is destroyed and the partial file deleted.
   * @throws GatewayError('invalid_image') when the head is not PNG/JPEG/WebP;
   *   GatewayError('body_too_large') past maxFileBytes or maxTotalBytes; the source's own error.
   */
  spoolFile(source: Readable, field: string): Promise<SpooledImage>;
  /** Deletes every file this spool created. Idempotent; call it when the request is finished. */
  cleanup(): Promise<void>;
}

/**
 * Creates a spool whose files are encrypted with AES-256-CTR under a random key that only lives in
 * this object's memory, so an upload never lands on disk in clear (a crash leaves only ciphertext
 * nobody can read). CTR keeps sizes equal and allows streaming both ways. Files are mode 0600.
 */
export function createImageSpool(options: ImageSpoolOptions): ImageSpool {
  const { maxFileBytes, maxTotalBytes } = options;
  if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 1) throw new RangeError('maxFileBytes must be a positive integer');
  if (!Number.isSafeInteger(maxTotalBytes) || maxTotalBytes < 1) throw new RangeError('maxTotalBytes must be a positive integer');
  return new EncryptedImageSpool(options.dir, maxFileBytes, maxTotalBytes);
}

class EncryptedImageSpool implements ImageSpool {
  // Made on first use: most requests are JSON and never spool anything.
  private keyBytes: Buffer | null = null;
  private readonly paths = new Set<string>();
  private totalBytes = 0;

  constructor(
    private readonly dirOption: string | undefined,
    private readonly maxFileBytes: number,
    private readonly maxTotalBytes: number,
  ) {}

  private get key(): Buffer {
    this.keyBytes ??= randomBytes(KEY_BYTES);
    return this.keyBytes;
  }

  // Resolved on first use: os.tmpdir() reads the environment, which is not free on every request.
  private get dir(): string {
    return resolveSpoolDir(this.dirOption);
  }

  async spoolFile(source: Readable, field: string): Promise<SpooledImage> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `cig-${process.pid}-${randomUUID()}.spool`);
    const iv = randomBytes(IV_BYTES);
    let reservedBytes = 0;
    const reserveBytes = (bytes: number): void => {
      this.reserveBytes(bytes, field);
      reservedBytes += bytes;
    };
    const meter = new UploadMeter({ field, maxFileBytes: this.maxFileBytes, reserveBytes });
    this.paths.add(path);
    const sink = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    try {
      await pipeline(source, meter, createCipheriv(CIPHER, this.key, iv), sink);
      const mime = requireComplete(source, meter, field, this.maxFileBytes);
      return buildSpooledImage({ path, bytes: meter.bytes, mime, key: this.key, iv });
    } catch (err) {
      this.totalBytes -= reservedBytes; // a failed upload gives its share of the budget back
      this.paths.delete(path);
      source.destroy();
      // The file is opened in the background: a part refused at its first bytes can fail the
      // pipeline before the open completes, and an rm then would run before the file exists.
      if (!sink.closed) await new Promise<void>((closed) => sink.once('close', () => closed()));
      await rm(path, { force: true });
      throw err;
    }
  }

  async cleanup(): Promise<void> {
    const doomed = [...this.paths];
    this.paths.clear();
    await Promise.all(doomed.map((path) => rm(path, { force: true })));
  }

  /** Claims bytes from the spool-wide budget (shared by concurrent uploads). */
  private reserveBytes(bytes: number, field: string): void {
    if (this.totalBytes + bytes > this.maxTotalBytes) {
      throw new GatewayError('body_too_large', `uploads are larger than ${this.maxTotalBytes} bytes in total`, field);
    }
    this.totalBytes += bytes;
  }
}

/**
 * The sniffed type of a fully read upload. Busboy truncates a file at its own `fileSize` limit and
 * only flags it (`truncated`), so that counts as too large as well.
 */
function requireComplete(source: Readable, meter: UploadMeter, field: string, maxFileBytes: number): ImageMime {
  if ((source as Readable & { truncated?: unknown }).truncated === true) {
    throw new GatewayError('body_too_large', `${field} is larger than ${maxFileBytes} bytes`, field);
  }
  // The meter sniffs in its flush, so a finished pipeline always has a type; this is a guard.
  if (meter.mime === null) throw new GatewayError('invalid_image', `${field} is not a valid PNG, JPEG or WebP image`, field);
  return meter.mime;
}

interface SpooledImageParts {
  path: string;
  bytes: number;
  mime: ImageMime;
  key: Buffer;
  iv: Buffer;
}

function buildSpooledImage({ path, bytes, mime, key, iv }: SpooledImageParts): SpooledImage {
  const openRaw = (): Readable => {
    const decipher = createDecipheriv(CIPHER, key, iv);
    // pipeline destroys the decipher with the read error (for example the file was cleaned up).
    pipeline(createReadStream(path), decipher).catch(() => undefined);
    return decipher;
  };
  return { path, bytes, mime, openRaw };
}
