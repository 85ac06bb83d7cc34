import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SPOOL_DIR_NAME, SPOOL_STALE_MS, createImageSpool, sweepStaleSpoolFiles, type ImageSpool } from '../../../src/images/image-spool.js';
import { PNG_SIGNATURE, makeJpegHeader, makePng, padImage } from '../../support/images.js';

let dir: string;
const spools: ImageSpool[] = [];
const newSpool = (maxFileBytes = 10_000_000, maxTotalBytes = 20_000_000) => {
  const spool = createImageSpool({ dir, maxFileBytes, maxTotalBytes });
  spools.push(spool);
  return spool;
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-spool-test-'));
});
afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.cleanup()));
  await rm(dir, { recursive: true, force: true });
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A lazy source of `totalBytes` starting with `head`, in 64 KiB chunks; counts what was pulled. */
function lazySource(head: Buffer, totalBytes: number) {
  const state = { pulled: 0, source: undefined as unknown as Readable };
  const chunkBytes = 64 * 1024;
  state.source = new Readable({
    read() {
      if (state.pulled >= totalBytes) return void this.push(null);
      const size = Math.min(chunkBytes, totalBytes - state.pulled);
      const chunk = state.pulled === 0 ? padImage(head, size) : Buffer.alloc(size, 0x5a);
      state.pulled += size;
      this.push(chunk);
    },
  });
  return state;
}

describe('createImageSpool', () => {
  it('spools an upload encrypted at rest and re-opens the original bytes any number of times', async () => {
    const spool = newSpool();
    const png = padImage(makePng(16, 16), 300_000);
    const file = await spool.spoolFile(Readable.from([png.subarray(0, 1000), png.subarray(1000)]), 'image');
    expect(file).toMatchObject({ mime: 'image/png', bytes: png.length });
    expect(file.path.startsWith(dir)).toBe(true);
    const onDisk = await readFile(file.path);
    expect(onDisk.length).toBe(png.length);
    expect(onDisk.includes(PNG_SIGNATURE)).toBe(false);
    expect(onDisk.equals(png)).toBe(false);
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
    expect((await readAll(file.openRaw())).equals(png)).toBe(true);
    expect((await readAll(file.openRaw())).equals(png)).toBe(true);
  });

  it('uses a different key per spool, so equal uploads differ on disk', async () => {
    const png = makePng(8, 8);
    const a = await newSpool().spoolFile(Readable.from([png]), 'image');
    const b = await newSpool().spoolFile(Readable.from([png]), 'image');
    expect((await readFile(a.path)).equals(await readFile(b.path))).toBe(false);
  });

  it('rejects a non-image upload, destroys the source and leaves no file', async () => {
    const spool = newSpool();
    const { source } = lazySource(Buffer.from('GIF89a not allowed'), 1_000_000);
    await expect(spool.spoolFile(source, 'image[]')).rejects.toMatchObject({
      code: 'invalid_image',
      message: 'image[] is not a valid PNG, JPEG or WebP image',
      param: 'image[]',
    });
    expect(source.destroyed).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a part refused at its first bytes leaves no file, even when that beats the file open (100 in a row)', async () => {
    // The refusal can settle before the background open of the spool file completes; a removal
    // that does not wait for the open would run first and the open would then leave the file.
    const spool = newSpool();
    const refusals = Array.from({ length: 100 }, () => spool.spoolFile(Readable.from([Buffer.from('plain text, not an image')]), 'image'));
    const outcomes = await Promise.allSettled(refusals);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops at the per-file limit (413), destroys the source early and deletes the partial file', async () => {
    const spool = newSpool(1_000_000);
    const state = lazySource(makePng(4, 4), 50_000_000);
    await expect(spool.spoolFile(state.source, 'image')).rejects.toMatchObject({
      code: 'body_too_large',
      message: 'image is larger than 1000000 bytes',
      param: 'image',
    });
    expect(state.source.destroyed).toBe(true);
    expect(state.pulled).toBeLessThan(3_000_000);
    expect(await readdir(dir)).toEqual([]);
  });

  it('accepts a file of exactly maxFileBytes', async () => {
    const file = await newSpool(100_000).spoolFile(lazySource(makeJpegHeader(), 100_000).source, 'mask');
    expect(file).toMatchObject({ mime: 'image/jpeg', bytes: 100_000 });
  });

  it('stops at the total limit across files (413) and keeps the earlier files until cleanup', async () => {
    const spool = newSpool(600_000, 1_000_000);
    const first = await spool.spoolFile(lazySource(makePng(2, 2), 600_000).source, 'image[]');
    const second = lazySource(makePng(2, 2), 600_000);
    await expect(spool.spoolFile(second.source, 'image[]')).rejects.toMatchObject({
      code: 'body_too_large',
      message: 'uploads are larger than 1000000 bytes in total',
      param: 'image[]',
    });
    expect(second.source.destroyed).toBe(true);
    expect(await readdir(dir)).toEqual([first.path.slice(dir.length + 1)]);
    await spool.cleanup();
    expect(await readdir(dir)).toEqual([]);
  });

  it('gives back the budget of a failed file', async () => {
    const spool = newSpool(600_000, 1_000_000);
    await expect(spool.spoolFile(lazySource(Buffer.from('not an image!'), 500_000).source, 'image')).rejects.toMatchObject({ code: 'invalid_image' });
    await expect(spool.spoolFile(lazySource(makePng(2, 2), 600_000).source, 'image')).resolves.toMatchObject({ bytes: 600_000 });
  });

  it('rethrows a source error (client abort) and deletes the partial file', async () => {
    const spool = newSpool();
    const aborted = new Error('aborted');
    const source = new Readable({
      read() {
        this.push(padImage(makePng(2, 2), 70_000));
        queueMicrotask(() => this.destroy(aborted));
      },
    });
    await expect(spool.spoolFile(source, 'image')).rejects.toBe(aborted);
    expect(await readdir(dir)).toEqual([]);
  });

  it('treats a stream busboy flagged as truncated as too large', async () => {
    const source = Readable.from([makePng(2, 2)]);
    Object.assign(source, { truncated: true });
    await expect(newSpool(5000).spoolFile(source, 'image')).rejects.toMatchObject({ code: 'body_too_large', message: 'image is larger than 5000 bytes' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('cleanup removes every file, is idempotent, and later opens fail', async () => {
    const spool = newSpool();
    const files = await Promise.all([1, 2, 3].map((i) => spool.spoolFile(Readable.from([makePng(i, i)]), 'image[]')));
    expect(await readdir(dir)).toHaveLength(3);
    await spool.cleanup();
    await spool.cleanup();
    expect(await readdir(dir)).toEqual([]);
    await expect(readAll(files[0]!.openRaw())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('defaults to a directory under the OS temp directory', async () => {
    const spool = createImageSpool({ maxFileBytes: 1000, maxTotalBytes: 1000 });
    const file = await spool.spoolFile(Readable.from([makePng(1, 1)]), 'image');
    expect(file.path.startsWith(join(tmpdir(), SPOOL_DIR_NAME))).toBe(true);
    await spool.cleanup();
    await expect(stat(file.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([[{ maxFileBytes: 0, maxTotalBytes: 10 }], [{ maxFileBytes: 10, maxTotalBytes: -1 }], [{ maxFileBytes: 1.5, maxTotalBytes: 10 }]])(
    'checks its options at creation: %j',
    (options) => {
      expect(() => createImageSpool(options)).toThrow(RangeError);
    },
  );
});

describe('sweepStaleSpoolFiles', () => {
  it('deletes spool files of dead writers and old legacy ones, keeps live, fresh and foreign files', async () => {
    // A pid that has just exited: its spool files are what a kill -9 leaves behind.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    const live = await newSpool().spoolFile(Readable.from([makePng(3, 3)]), 'image');
    const names = {
      deadWriter: `cig-${deadPid}-${randomUUID()}.spool`,
      oldLegacy: `${randomUUID()}.spool`,
      freshLegacy: `${randomUUID()}.spool`,
      liveOther: `cig-${process.ppid}-${randomUUID()}.spool`,
      foreignText: 'notes.txt',
      foreignSpool: 'other.spool',
      foreignPrefix: 'cig-1-not-a-uuid.spool',
    };
    for (const name of Object.values(names)) await writeFile(join(dir, name), 'x');
    const old = new Date(Date.now() - SPOOL_STALE_MS - 60_000);
    await utimes(join(dir, names.oldLegacy), old, old);

    expect(await sweepStaleSpoolFiles(dir)).toBe(2);
    const left = await readdir(dir);
    expect(left).not.toContain(names.deadWriter);
    expect(left).not.toContain(names.oldLegacy);
    expect(left.sort()).toEqual(
      [names.freshLegacy, names.liveOther, names.foreignText, names.foreignSpool, names.foreignPrefix, live.path.slice(dir.length + 1)].sort(),
    );
  });

  it('a missing directory is nothing to sweep', async () => {
    expect(await sweepStaleSpoolFiles(join(dir, 'absent'))).toBe(0);
  });
});
