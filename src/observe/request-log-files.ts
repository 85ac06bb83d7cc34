import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** File names of the request-log directory; one place for each. */
export const REQUEST_LOG_FILES = {
  /** The file being appended to. */
  active: 'codex-image-active.jsonl',
  /** Lock file: one writer per directory. */
  lock: 'codex-image.lock',
  /** Prefix and suffix of every log file; sealed files are `codex-image-<now_ms>-<seq>.jsonl`. */
  prefix: 'codex-image-',
  suffix: '.jsonl',
} as const satisfies Record<string, string>;

/** Name of a sealed (rotated) log file. */
export function buildSealedLogName(nowMs: number, seq: number): string {
  return `${REQUEST_LOG_FILES.prefix}${nowMs}-${seq}${REQUEST_LOG_FILES.suffix}`;
}

/** True for `codex-image-*.jsonl` other than the active file: the files pruning may delete. */
export function isSealedLogName(name: string): boolean {
  return (
    name !== REQUEST_LOG_FILES.active &&
    name.startsWith(REQUEST_LOG_FILES.prefix) &&
    name.endsWith(REQUEST_LOG_FILES.suffix) &&
    name.length > REQUEST_LOG_FILES.prefix.length + REQUEST_LOG_FILES.suffix.length
  );
}

/**
 * Renames the active file to `codex-image-<nowMs>-<seq>.jsonl`, bumping `seq` until the name is free.
 * Returns the next sequence number to use. Safe only under the directory lock (one writer).
 */
export async function sealActiveLog(dir: string, nowMs: number, seq: number): Promise<number> {
  let next = seq;
  while (await isTaken(join(dir, buildSealedLogName(nowMs, next)))) next++;
  await rename(join(dir, REQUEST_LOG_FILES.active), join(dir, buildSealedLogName(nowMs, next)));
  return next + 1;
}

/**
 * Deletes the oldest sealed log files (by mtime; ties broken by the time and sequence in the name)
 * until at most `maxFiles` (at least 1) remain. Returns the names it deleted; when some deletions
 * fail, the rest are still attempted and the first failure is thrown.
 */
export async function pruneSealedLogs(dir: string, maxFiles: number): Promise<string[]> {
  const keep = Math.max(1, Math.floor(maxFiles));
  const names = (await readdir(dir)).filter(isSealedLogName);
  if (names.length <= keep) return [];
  const dated = await Promise.all(names.map(async (name) => ({ name, mtimeMs: await readMtimeMs(join(dir, name)) })));
  dated.sort((a, b) => a.mtimeMs - b.mtimeMs || compareSealedNames(a.name, b.name));
  const doomed = dated.slice(0, dated.length - keep).map((f) => f.name);
  const failures: unknown[] = [];
  for (const name of doomed) await unlink(join(dir, name)).catch((err: unknown) => recordFailure(err, failures));
  if (failures.length > 0) throw failures[0]; // the others were still attempted
  return doomed;
}

/** Orders sealed names by their numeric `<now_ms>` then `<seq>` (string order would put 10 before 9). */
function compareSealedNames(a: string, b: string): number {
  const [am, as] = parseSealedParts(a);
  const [bm, bs] = parseSealedParts(b);
  return am - bm || as - bs || (a < b ? -1 : a > b ? 1 : 0);
}

function parseSealedParts(name: string): [number, number] {
  const m = /^codex-image-(\d+)-(\d+)\.jsonl$/.exec(name);
  return m ? [Number(m[1]), Number(m[2])] : [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
}

async function readMtimeMs(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY; // vanished meanwhile: sort last, unlink will ignore it
  }
}

async function isTaken(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Collects a failed unlink; a file that is already gone is not a failure. */
function recordFailure(err: unknown, failures: unknown[]): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failures.push(err);
}
