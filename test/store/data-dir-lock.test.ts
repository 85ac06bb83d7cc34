import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DATA_DIR_LOCK_FILE, DataDirLockedError, readDataDirLock } from '../../src/store/data-dir-lock.js';

let dir: string;
const lockPath = () => join(dir, DATA_DIR_LOCK_FILE);
const writeLock = (content: unknown) => writeFileSync(lockPath(), typeof content === 'string' ? content : JSON.stringify(content));
const readLock = () => JSON.parse(readFileSync(lockPath(), 'utf8')) as { pid: number; startedAt: number };

/** A pid that existed and is gone now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cig-lock-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('acquireDataDirLock', () => {
  it('creates gateway.lock holding our pid and start time, and release removes it', async () => {
    const lock = await acquireDataDirLock(dir, () => 1234);
    expect(readLock()).toEqual({ pid: process.pid, startedAt: 1234 });
    expect(readDataDirLock(dir)).toEqual({ pid: process.pid, startedAt: 1234 });
    await lock.release();
    expect(existsSync(lockPath())).toBe(false);
    expect(readDataDirLock(dir)).toBeNull();
  });

  it('creates the data directory when missing', async () => {
    const nested = join(dir, 'a', 'b');
    const lock = await acquireDataDirLock(nested);
    expect(existsSync(join(nested, DATA_DIR_LOCK_FILE))).toBe(true);
    await lock.release();
  });

  it('refuses a second acquire while the first is held, naming the pid', async () => {
    const lock = await acquireDataDirLock(dir);
    const second = acquireDataDirLock(dir);
    await expect(second).rejects.toThrow(DataDirLockedError);
    await expect(acquireDataDirLock(dir)).rejects.toThrow(`is in use by a running instance (pid ${process.pid})`);
    await lock.release();
    await (await acquireDataDirLock(dir)).release();
  });

  it('refuses when another live process holds it, and takes over once that process is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      writeLock({ pid: child.pid, startedAt: Date.now() });
      const err = await acquireDataDirLock(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as DataDirLockedError).pid).toBe(child.pid);
      expect((err as Error).message).toContain('admin API');
      expect(readDataDirLock(dir)?.pid).toBe(child.pid);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(readDataDirLock(dir)).toBeNull();
    const lock = await acquireDataDirLock(dir);
    expect(readLock().pid).toBe(process.pid);
    await lock.release();
  });

  it.each([
    ['a dead pid', () => ({ pid: deadPid(), startedAt: Date.now() })],
    ['our own pid that we do not hold (container restart reuses pid 1)', () => ({ pid: process.pid, startedAt: 1 })],
    ['garbage', () => 'not json'],
    ['an empty file', () => ''],
    ['a negative pid', () => ({ pid: -5, startedAt: 1 })],
  ])('takes over a stale lock: %s', async (_label, content) => {
    writeLock(content());
    const lock = await acquireDataDirLock(dir, () => 777);
    expect(readLock()).toEqual({ pid: process.pid, startedAt: 777 });
    await lock.release();
  });

  it('treats a live pid that started long after the lock was written as reused', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      writeLock({ pid: child.pid, startedAt: Date.now() - 3_600_000 });
      expect(readDataDirLock(dir)).toBeNull();
      const lock = await acquireDataDirLock(dir);
      expect(readLock().pid).toBe(process.pid);
      await lock.release();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('release leaves a lock that is no longer ours', async () => {
    const lock = await acquireDataDirLock(dir);
    writeLock({ pid: process.pid, startedAt: lock.info.startedAt + 1 });
    await lock.release();
    expect(existsSync(lockPath())).toBe(true);
  });

  it('only one of many concurrent acquires wins', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireDataDirLock(dir)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof DataDirLockedError)).toBe(true);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireDataDirLock>>>).value.release();
  });
});
