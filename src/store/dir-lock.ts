import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The one directory lock: a lock file inside a directory, so one process at a time uses it. It
 * guards the data directory (PGlite has no inter-process locking) and each request-log directory
 * (one writer). Synchronous on purpose: it runs once at start-up and must decide before anything
 * is written.
 */

/** What a lock file holds: who holds the directory, since when (ms since epoch). */
export interface DirLockInfo {
  pid: number;
  startedAt: number;
}

/** A held lock; `release()` removes the file if it is still ours (idempotent). */
export interface DirLock {
  readonly path: string;
  readonly info: DirLockInfo;
  release(): void;
}

/** Another live process (or this one, through another holder) holds the lock file. `code` is stable for callers. */
export class DirLockedError extends Error {
  readonly code: string = 'DIR_LOCKED';
  constructor(
    readonly lockPath: string,
    readonly pid: number,
    message = `${lockPath} is held by live process ${pid}; only one process may use this directory`,
  ) {
    super(message);
    this.name = 'DirLockedError';
  }
}

/** File name of the lock inside the data directory. */
export const DATA_DIR_LOCK_FILE = 'gateway.lock';

/** Another running process holds the data directory: the message says how to reach it instead. */
export class DataDirLockedError extends DirLockedError {
  constructor(
    readonly dataDir: string,
    cause: DirLockedError,
  ) {
    super(
      cause.lockPath,
      cause.pid,
      `data directory ${dataDir} is in use by a running instance (pid ${cause.pid}); ` +
        'talk to it through its admin API (the CLI does this by itself) instead of opening the directory again',
    );
    this.name = 'DataDirLockedError';
  }
}

const TAKEOVER_ATTEMPTS = 5;
/** Paths this process holds: a lock file naming our own pid but not in here is stale (a container restart reuses pid 1). */
const heldPaths = new Set<string>();

/**
 * Takes `<dir>/<fileName>` for this process (`dir` is created when missing). The file is created
 * atomically with link(2) and holds `{pid, startedAt}`. A lock whose process is gone, or whose pid
 * now belongs to a process that started after the lock was written, is stale and is taken over.
 * @throws DirLockedError when a live process holds it.
 */
export function acquireDirLock(dir: string, fileName: string, now: () => number = Date.now): DirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(resolve(dir), fileName);
  const info: DirLockInfo = { pid: process.pid, startedAt: now() };
  for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
    if (tryCreateLock(path, info)) return { path, info, release: () => releaseLock(path, info) };
    const holder = readLockInfo(path);
    if (holder && isLockHolderAlive(path, holder)) throw new DirLockedError(path, holder.pid);
    removeStaleLock(path, holder);
  }
  throw new Error(`could not take the lock file ${path}: it keeps changing`);
}

/** The live process holding `<dir>/<fileName>`, or null when none does (no lock file, or a stale one). Never throws. */
export function readDirLock(dir: string, fileName: string): DirLockInfo | null {
  const path = join(resolve(dir), fileName);
  const holder = readLockInfo(path);
  return holder && isLockHolderAlive(path, holder) ? holder : null;
}

/**
 * Takes the data directory for this process (`<dataDir>/gateway.lock`). Async for its callers'
 * sake (they open a database right after); the lock itself is taken synchronously.
 * @throws DataDirLockedError (as a rejection) when a live process holds it.
 */
export async function acquireDataDirLock(dataDir: string, now: () => number = Date.now): Promise<DirLock> {
  try {
    return acquireDirLock(dataDir, DATA_DIR_LOCK_FILE, now);
  } catch (err) {
    if (err instanceof DirLockedError) throw new DataDirLockedError(dataDir, err);
    throw err;
  }
}

/** The live process holding the data directory, or null when none does. Never throws. */
export function readDataDirLock(dataDir: string): DirLockInfo | null {
  return readDirLock(dataDir, DATA_DIR_LOCK_FILE);
}

// Written to a private file first, then linked into place: the lock never exists half-written.
function tryCreateLock(path: string, info: DirLockInfo): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify(info)}\n`, { mode: 0o644 });
  try {
    linkSync(temp, path);
    heldPaths.add(path);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    ignoreMissing(() => unlinkSync(temp));
  }
}

/**
 * Moves the stale lock aside and checks that what we moved is the stale one we looked at; if another
 * process's fresh lock was moved instead, it is put back.
 */
function removeStaleLock(path: string, seen: DirLockInfo | null): void {
  const grave = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, grave);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  const moved = readLockInfo(grave);
  const isSame = seen === null ? moved === null : moved?.pid === seen.pid && moved.startedAt === seen.startedAt;
  if (!isSame) ignoreMissing(() => linkSync(grave, path));
  ignoreMissing(() => unlinkSync(grave));
}

function releaseLock(path: string, info: DirLockInfo): void {
  if (!heldPaths.delete(path)) return;
  const current = readLockInfo(path);
  if (current?.pid === info.pid && current.startedAt === info.startedAt) ignoreMissing(() => unlinkSync(path));
}

function readLockInfo(path: string): DirLockInfo | null {
  try {
    return parseLockInfo(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

function parseLockInfo(text: string): DirLockInfo | null {
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
function isLockHolderAlive(path: string, holder: DirLockInfo): boolean {
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
function isPidReused(holder: DirLockInfo): boolean {
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

function ignoreMissing(action: () => void): void {
  try {
    action();
  } catch {
    // Already gone, or put back by its owner: nothing left for us to do.
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? String((err as { code?: unknown }).code) : undefined;
}
