import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Raised when another live writer holds a directory's lock file. `code` is stable for callers. */
export class DirLockedError extends Error {
  readonly code = 'DIR_LOCKED';
  constructor(
    readonly lockPath: string,
    readonly holderPid: number,
  ) {
    super(`${lockPath} is held by live process ${holderPid}; only one writer may use this directory`);
    this.name = 'DirLockedError';
  }
}

/** A held lock; `release()` removes the lock file if it is still ours (idempotent). */
export interface DirLock {
  readonly path: string;
  release(): void;
}

/** Lock paths held by this process, so a same-pid lock file can be told apart from a stale one. */
const heldByThisProcess = new Set<string>();

/**
 * Takes an exclusive lock file (`O_CREAT|O_EXCL`, content = our pid) in `dir`.
 * A lock left by a dead process is taken over. A lock carrying our own pid that this process does not
 * hold is stale too (containers restart with the same pid, often 1). Synchronous on purpose: it runs
 * once at start-up and must decide before anything is written.
 * @throws DirLockedError when a live process (or this process, through another writer) holds it.
 */
export function acquireDirLock(dir: string, fileName: string): DirLock {
  const path = join(resolve(dir), fileName);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreateLock(path)) {
      heldByThisProcess.add(path);
      return { path, release: () => releaseLock(path) };
    }
    const holderPid = readHolderPid(path);
    if (holderPid !== null && isLiveHolder(path, holderPid)) throw new DirLockedError(path, holderPid);
    removeStaleLock(path);
  }
  throw new DirLockedError(path, readHolderPid(path) ?? -1);
}

function tryCreateLock(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The pid recorded in the lock file; null when the file is gone or holds no pid (treated as stale). */
function readHolderPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isLiveHolder(path: string, pid: number): boolean {
  if (pid === process.pid) return heldByThisProcess.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeStaleLock(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function releaseLock(path: string): void {
  if (!heldByThisProcess.delete(path)) return;
  if (readHolderPid(path) === process.pid) removeStaleLock(path);
}
