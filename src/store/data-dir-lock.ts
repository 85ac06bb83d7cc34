import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** File name of the lock inside the data directory. */
export const DATA_DIR_LOCK_FILE = 'gateway.lock';

/** What the lock file holds: who holds the directory, since when (ms since epoch). */
export interface DataDirLockInfo {
  pid: number;
  startedAt: number;
}

/** A held lock; `release()` removes the file (only if it is still ours). */
export interface DataDirLock {
  readonly path: string;
  readonly info: DataDirLockInfo;
  release(): Promise<void>;
}

/** Another running process holds the data directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `data directory ${dataDir} is in use by a running instance (pid ${pid}); ` +
        'talk to it through its admin API (the CLI does this by itself) instead of opening the directory again',
    );
  }
}

const TAKEOVER_ATTEMPTS = 5;
/** Paths this process holds: a lock file naming our own pid but not in here is stale (a container restart reuses pid 1). */
const heldPaths = new Set<string>();

/**
 * Takes the data directory for this process. PGlite has no inter-process locking, so we hold
 * `<dataDir>/gateway.lock` (created atomically with link(2), holding `{pid, startedAt}`). A lock
 * whose process is gone is stale and is taken over.
 * @throws DataDirLockedError when a live process holds it.
 */
export async function acquireDataDirLock(dataDir: string, now: () => number = Date.now): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, DATA_DIR_LOCK_FILE);
  const info: DataDirLockInfo = { pid: process.pid, startedAt: now() };
  for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
    if (await tryCreateLock(path, info)) {
      return { path, info, release: () => releaseLock(path, info) };
    }
    const holder = readLockInfo(path);
    if (holder && isLockHolderAlive(path, holder)) throw new DataDirLockedError(dataDir, holder.pid);
    await removeStaleLock(path, holder);
  }
  throw new Error(`could not take the lock file ${path}: it keeps changing`);
}

/** The live process holding `dataDir`, or null when none does (no lock file, or a stale one). Never throws. */
export function readDataDirLock(dataDir: string): DataDirLockInfo | null {
  const path = join(dataDir, DATA_DIR_LOCK_FILE);
  const holder = readLockInfo(path);
  return holder && isLockHolderAlive(path, holder) ? holder : null;
}

// Written to a private file first, then linked into place: the lock never exists half-written.
async function tryCreateLock(path: string, info: DataDirLockInfo): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(info)}\n`, { mode: 0o644 });
  try {
    await link(temp, path);
    // Marked at once (before any await), so a concurrent acquire in this process sees it as live.
    heldPaths.add(path);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Moves the stale lock aside and checks that what we moved is the stale one we looked at; if a
 * newcomer's fresh lock was moved instead, it is put back.
 */
async function removeStaleLock(path: string, seen: DataDirLockInfo | null): Promise<void> {
  const grave = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, grave);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  const moved = readLockInfo(grave);
  const isSame = seen === null ? moved === null : moved?.pid === seen.pid && moved.startedAt === seen.startedAt;
  if (!isSame) await link(grave, path).catch(() => undefined);
  await unlink(grave).catch(() => undefined);
}

async function releaseLock(path: string, info: DataDirLockInfo): Promise<void> {
  heldPaths.delete(path);
  const current = await readFile(path, 'utf8').then(parseLockInfo, () => null);
  if (current?.pid === info.pid && current.startedAt === info.startedAt) await unlink(path).catch(() => undefined);
}

function readLockInfo(path: string): DataDirLockInfo | null {
  try {
    return parseLockInfo(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

function parseLockInfo(text: string): DataDirLockInfo | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return null;
    const { pid, startedAt } = value as Record<string, unknown>;
    if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || !Number.isSafeInteger(startedAt)) return null;
    return { pid: pid as number, startedAt: startedAt as number };
  } catch {
    return null;
  }
}

/** Alive = the pid exists (EPERM counts: it exists but is not ours), and if it is our own pid, we hold this path. */
function isLockHolderAlive(path: string, holder: DataDirLockInfo): boolean {
  if (holder.pid === process.pid) return heldPaths.has(path);
  try {
    process.kill(holder.pid, 0);
    return !isPidReused(holder);
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

const CLOCK_TICKS_PER_SECOND = 100; // Linux USER_HZ, fixed for user space on every architecture
const START_TIME_SLACK_MS = 10_000;

/**
 * Linux only, best effort: a process that started well after the lock was written cannot be the
 * holder (the pid was reused after a crash or reboot). Anywhere /proc is unreadable: not reused.
 */
function isPidReused(holder: DataDirLockInfo): boolean {
  try {
    const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const bootLine = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    if (!bootLine || !Number.isFinite(startTicks)) return false;
    const startedAtMs = Number(bootLine[1]) * 1000 + (startTicks * 1000) / CLOCK_TICKS_PER_SECOND;
    return startedAtMs > holder.startedAt + START_TIME_SLACK_MS;
  } catch {
    return false;
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? String((err as { code?: unknown }).code) : undefined;
}
