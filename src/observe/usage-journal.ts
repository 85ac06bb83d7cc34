/**
 * The local usage journal: every usage increment is appended to a file on this process's disk the
 * moment it is recorded, before the batcher (usage-recorder.ts) holds it in memory, so a process
 * killed between two database flushes loses none of it: the next start on the same directory
 * replays the journal (runtime/usage-journal-runtime.ts) and the database's per-writer mark
 * (store/usage-journal-repo.ts) keeps a replay from adding what a flush already wrote.
 *
 * Durability, precisely:
 * - Process death (kill -9, OOM kill, crash): nothing recorded is lost. `append` returns only after
 *   write(2) has handed the line to the kernel, and the kernel keeps a dead process's writes.
 * - Machine crash or power loss: what was appended within the last `syncIntervalMs` may be lost.
 *   Lines are fsync'd as a group on that timer (one fdatasync for every line since the previous
 *   one), never once per request, so a request never waits for the disk.
 *
 * Layout: one directory per writer (one process lifetime), holding `segment-<first seq>.jsonl` files
 * of one JSON record per line (`{"seq":…, keyId, counters…, lastUsedAt, rollup facts…}`). The active segment is
 * closed and a new one started once it is `maxFileBytes` big or `maxFileAgeMs` old; a closed segment
 * is deleted as soon as the database holds every record in it. Nothing unapplied is ever pruned:
 * while the database is unreachable the journal grows, as the batcher's pending usage does.
 */
import { closeSync, fdatasync, fsyncSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyUsageDelta, UsageRollupFacts } from '../store/types.js';
import { buildRecordLine, parseRecordLine, type UsageJournalRecord } from './usage-journal-record.js';

/** A segment file's name: `segment-<first seq, 16 digits>.jsonl`, so name order is sequence order. */
const SEGMENT_NAME = /^segment-(\d{16})\.jsonl$/;
const buildSegmentName = (firstSeq: number): string => `segment-${String(firstSeq).padStart(16, '0')}.jsonl`;

export interface UsageJournalOptions {
  /** This writer's own directory (created by the caller, who holds its lock). */
  dir: string;
  /** Start a new segment once the active one holds this many bytes (at least 1). */
  maxFileBytes: number;
  /** Start a new segment once the active one is this old (at least 1 ms). */
  maxFileAgeMs: number;
  /** Group-commit window: appended lines are fsync'd together at most this long after they were written. */
  syncIntervalMs: number;
  now?: () => number;
  /** Append, sync and delete failures. The journal carries on: the usage itself is still counted in memory. */
  onError?: (err: unknown) => void;
}

/** What the usage recorder needs from a journal. */
export interface UsageJournalPort {
  /** Appends one increment and its rollup facts (synchronous write(2), no fsync); returns its sequence number. Never throws. */
  append(delta: KeyUsageDelta, facts: UsageRollupFacts): number;
  /** The database now holds every record up to `seq`: segments wholly at or below it are deleted. */
  markApplied(seq: number): void;
}

/**
 * Appends increments to segment files in its directory. One instance per process; the directory
 * belongs to it alone (the caller holds the directory's lock).
 */
export class UsageJournal implements UsageJournalPort {
  private readonly now: () => number;
  private readonly report: (err: unknown) => void;
  private readonly timer: NodeJS.Timeout;
  private fd: number | null = null;
  private active: { path: string; bytes: number; startedMs: number; lastSeq: number } | null = null;
  private closedSegments: Array<{ path: string; lastSeq: number }> = [];
  private lastSeq = 0;
  private appliedSeq = 0;
  private dirty = false;
  private syncing = false;
  private closed = false;

  constructor(private readonly opts: UsageJournalOptions) {
    this.now = opts.now ?? Date.now;
    this.report = (err) => {
      try {
        opts.onError?.(err);
      } catch {
        // A failing error sink must not break usage accounting.
      }
    };
    this.timer = setInterval(() => this.syncNow(), Math.max(1, opts.syncIntervalMs));
    this.timer.unref();
  }

  append(delta: KeyUsageDelta, facts: UsageRollupFacts): number {
    const seq = ++this.lastSeq;
    if (this.closed) {
      this.report(new Error(`usage journal is closed; record ${seq} kept in memory only`));
      return seq;
    }
    try {
      if (this.isRotationDue()) this.sealActive();
      const line = Buffer.from(`${JSON.stringify(buildRecordLine(seq, delta, facts))}\n`);
      const active = this.openActive(seq);
      writeAll(this.fd!, line);
      active.bytes += line.length;
      active.lastSeq = seq;
      this.dirty = true;
    } catch (err) {
      this.report(err);
      // A write that failed halfway leaves a partial line: the next record goes to a fresh segment,
      // so that line stays the torn tail of this one instead of swallowing the next record.
      this.sealActive();
    }
    return seq;
  }

  markApplied(seq: number): void {
    this.appliedSeq = Math.max(this.appliedSeq, seq);
    const stillNeeded = [];
    for (const segment of this.closedSegments) {
      if (segment.lastSeq > this.appliedSeq || !this.removeFile(segment.path)) stillNeeded.push(segment);
    }
    this.closedSegments = stillNeeded;
    // An idle journal would keep its applied active segment forever: retire it once it is due anyway.
    if (this.active && this.active.lastSeq <= this.appliedSeq && this.isRotationDue()) this.sealActive();
  }

  /**
   * Stops the sync timer and closes the file. When the database holds every record, the segments are
   * deleted and true is returned (the caller may then drop the writer's mark and directory); otherwise
   * they are fsync'd and left for the next start to replay.
   */
  close(): boolean {
    if (this.closed) return false;
    this.closed = true;
    clearInterval(this.timer);
    this.closeActive();
    if (this.appliedSeq < this.lastSeq) return false;
    try {
      for (const name of listSegmentNames(this.opts.dir)) this.removeFile(join(this.opts.dir, name));
      return listSegmentNames(this.opts.dir).length === 0;
    } catch (err) {
      this.report(err);
      return false;
    }
  }

  /** fdatasync of everything written since the last sync; one at a time, off the event loop. */
  private syncNow(): void {
    if (!this.dirty || this.syncing || this.fd === null) return;
    this.dirty = false;
    this.syncing = true;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      // EBADF: the segment was closed meanwhile, and closing fsyncs it anyway.
      if (err && err.code !== 'EBADF') this.report(err);
    });
  }

  private isRotationDue(): boolean {
    const active = this.active;
    return active !== null && (active.bytes >= Math.max(1, this.opts.maxFileBytes) || this.now() - active.startedMs >= Math.max(1, this.opts.maxFileAgeMs));
  }

  /** Closes the active segment; deletes it when the database already holds all of it, else keeps it for markApplied. */
  private sealActive(): void {
    if (!this.active) return;
    const { path, lastSeq } = this.active;
    this.closeActive();
    if (lastSeq <= this.appliedSeq) this.removeFile(path);
    else this.closedSegments.push({ path, lastSeq });
  }

  private openActive(firstSeq: number): NonNullable<UsageJournal['active']> {
    if (this.active && this.fd !== null) return this.active;
    const path = join(this.opts.dir, buildSegmentName(firstSeq));
    this.fd = openSync(path, 'a', 0o640);
    this.active = { path, bytes: 0, startedMs: this.now(), lastSeq: firstSeq - 1 };
    return this.active;
  }

  /** Closes the active segment after a final fsync, so a closed segment is always on disk whole. */
  private closeActive(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.active = null;
    this.dirty = false;
    for (const step of [fsyncSync, closeSync]) {
      try {
        step(fd);
      } catch (err) {
        this.report(err);
      }
    }
  }

  /** Deletes a file; true when it is gone (also when it already was). */
  private removeFile(path: string): boolean {
    try {
      unlinkSync(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      this.report(err);
      return false;
    }
  }
}

/** What reading a stopped writer's journal found: its records in sequence order, and what was skipped. */
export interface UsageJournalContents {
  records: UsageJournalRecord[];
  /** Lines that could not be read: a torn last line (the process died mid-write) or a damaged one. */
  skipped: Array<{ segment: string; line: number; reason: 'torn' | 'unreadable' }>;
}

/** The segment files of a writer directory, in sequence order. */
export function listSegmentNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => SEGMENT_NAME.test(name))
    .sort();
}

/**
 * Reads one segment. A last line without its newline is torn (the writer died in the middle of
 * it: a machine crash, or a disk that filled up) and is skipped; any other line that is not a valid
 * record is skipped as unreadable. Never throws on content; only on I/O.
 */
export function readUsageJournalSegment(dir: string, name: string): UsageJournalContents {
  const text = readFileSync(join(dir, name), 'utf8');
  const lines = text.split('\n');
  const tail = lines.pop()!; // '' when the file ends with a newline
  const contents: UsageJournalContents = { records: [], skipped: [] };
  lines.forEach((line, index) => {
    const record = parseRecordLine(line);
    if (record) contents.records.push(record);
    else contents.skipped.push({ segment: name, line: index + 1, reason: 'unreadable' });
  });
  if (tail !== '') contents.skipped.push({ segment: name, line: lines.length + 1, reason: 'torn' });
  return contents;
}

/** write(2) until the whole buffer is in the kernel (a regular file normally takes it in one call). */
function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset);
}
