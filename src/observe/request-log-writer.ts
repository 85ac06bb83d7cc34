/**
 * The redacted JSONL request log: one JSON object per line in `codex-image-active.jsonl`,
 * rotated to `codex-image-<now_ms>-<seq>.jsonl` and pruned to `maxFiles` sealed files.
 *
 * Why not a maintained rotation library: the log's format fixes the sealed file
 * names (`<now_ms>-<seq>`, seq bumped until free), measures age from the last rotation rather than
 * from a clock boundary or the file's mtime, prunes by mtime among sealed files only, and the
 * hot path needs a bounded, drop-counting queue. rotating-file-stream and pino-roll each impose their
 * own naming and interval semantics, so matching this format would mean fighting them; the rotation itself
 * is ~60 lines in `request-log-files.ts`.
 *
 * Divergences from the original, on purpose: writes are batched on one async worker instead of a
 * blocking thread (a batch is every line queued when the worker runs, which is LINGER_MS after the
 * first line of an idle writer, or at once on `flush`; the age check is made once per batch, the
 * size check holds per line); an age rotation of an empty active file only restarts the clock (no
 * empty sealed files).
 */
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireDirLock } from '../store/dir-lock.js';
import type { ImageLogEvent } from './image-log-event.js';
import { REQUEST_LOG_FILES, pruneSealedLogs, sealActiveLog } from './request-log-files.js';

/** Lines held in memory while the disk is slow; beyond this, lines are dropped and counted. */
export const DEFAULT_MAX_QUEUED_LINES = 10_000;
/** Most bytes appended by one write call. */
const MAX_BATCH_BYTES = 1 << 20;
/**
 * How long the first line of an idle writer waits for company. Each write is a round trip through
 * libuv's thread pool (a thread woken, the write, the main loop woken again), which cost a request
 * at one connection about as much as its own log line's JSON; lingering turns that into one write
 * per LINGER_MS at any rate. A line reaches the file at most this much later.
 */
export const LINGER_MS = 20;

export interface RequestLogWriterOptions {
  dir: string;
  /** Rotate once the active file holds at least this many bytes (at least 1). */
  maxFileBytes: number;
  /** Rotate once this long has passed since the active file was started or last rotated (at least 1). */
  maxFileAgeMs: number;
  /** Sealed files kept after a rotation (at least 1). */
  maxFiles: number;
  now?: () => number;
  /** Write, rotate and prune failures; the writer carries on. Defaults to `process.emitWarning`. */
  onError?: (err: unknown) => void;
  maxQueuedLines?: number;
}

export interface RequestLogWriterStats {
  writtenLines: number;
  /** Lines lost: queue full, failed write, or written after close. */
  droppedLines: number;
  queuedLines: number;
}

export interface RequestLogWriter {
  /** Enqueues one line; never throws, never waits. */
  write(event: ImageLogEvent): void;
  /** Resolves when every line accepted before the call is written (or counted as dropped). */
  flush(): Promise<void>;
  /** Flushes, closes the file and releases the directory lock. Later writes are dropped. */
  close(): Promise<void>;
  stats(): RequestLogWriterStats;
}

/**
 * Opens the request log in `dir` (created if missing) and takes its lock file, so start-up fails
 * loudly when another process already writes there.
 * @throws DirLockedError when another live writer holds `codex-image.lock`.
 */
export function createRequestLogWriter(opts: RequestLogWriterOptions): RequestLogWriter {
  mkdirSync(opts.dir, { recursive: true });
  const lock = acquireDirLock(opts.dir, REQUEST_LOG_FILES.lock);
  return new LogWriter(opts, lock.release);
}

interface Waiter {
  target: number;
  resolve: () => void;
}

class LogWriter implements RequestLogWriter {
  private readonly now: () => number;
  private readonly report: (err: unknown) => void;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly maxQueued: number;
  private readonly activePath: string;
  private queue: string[] = [];
  private waiters: Waiter[] = [];
  private handle: FileHandle | null = null;
  private activeBytes = 0;
  private activeStartMs: number;
  private seq = 0;
  private accepted = 0;
  private settled = 0;
  private written = 0;
  private dropped = 0;
  private running = false;
  private lingering: NodeJS.Timeout | null = null;
  private overflowReported = false;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly opts: RequestLogWriterOptions,
    private readonly releaseLock: () => void,
  ) {
    this.now = opts.now ?? Date.now;
    this.report = safeReporter(opts.onError);
    this.maxBytes = Math.max(1, opts.maxFileBytes);
    this.maxAgeMs = Math.max(1, opts.maxFileAgeMs);
    this.maxQueued = Math.max(1, opts.maxQueuedLines ?? DEFAULT_MAX_QUEUED_LINES);
    this.activePath = join(opts.dir, REQUEST_LOG_FILES.active);
    this.activeStartMs = this.now();
  }

  write(event: ImageLogEvent): void {
    if (this.closing) {
      this.dropped++;
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.dropOverflow();
      return;
    }
    let line: string;
    try {
      line = `${JSON.stringify(event)}\n`;
    } catch (err) {
      this.dropped++;
      this.report(err);
      return;
    }
    this.queue.push(line);
    this.accepted++;
    if (!this.running && !this.lingering) this.lingering = setTimeout(() => this.startDrain(), LINGER_MS);
  }

  flush(): Promise<void> {
    if (this.settled >= this.accepted) return Promise.resolve();
    if (this.lingering) this.startDrain();
    return new Promise((resolve) => this.waiters.push({ target: this.accepted, resolve }));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  stats(): RequestLogWriterStats {
    return { writtenLines: this.written, droppedLines: this.dropped, queuedLines: this.queue.length };
  }

  private async shutdown(): Promise<void> {
    await this.flush();
    await this.closeHandle();
    try {
      this.releaseLock();
    } catch (err) {
      this.report(err);
    }
  }

  private dropOverflow(): void {
    this.dropped++;
    if (this.overflowReported) return;
    this.overflowReported = true;
    this.report(new Error(`request log queue is full (${this.maxQueued} lines); dropping lines until it drains`));
  }

  private startDrain(): void {
    if (this.lingering) clearTimeout(this.lingering);
    this.lingering = null;
    this.running = true;
    void this.drain();
  }

  /** The single worker: appends batches until the queue is empty. Never rejects. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      let lines = 0;
      try {
        await this.ensureOpen();
        await this.rotateIfDue();
        await this.ensureOpen();
        const batch = this.takeBatch();
        lines = batch.lines;
        await this.appendBatch(batch.text, batch.bytes);
        this.written += lines;
      } catch (err) {
        if (lines === 0) lines = this.takeBatch().lines;
        this.dropped += lines;
        this.report(err);
        await this.closeHandle();
      }
      this.settle(lines);
    }
    this.overflowReported = false;
    this.running = false;
  }

  private async ensureOpen(): Promise<void> {
    if (this.handle) return;
    this.handle = await open(this.activePath, 'a', 0o640);
    this.activeBytes = (await this.handle.stat()).size;
  }

  /** Rotates when bytes >= max(1, maxFileBytes) or age since start/rotation >= max(1, maxFileAgeMs). */
  private async rotateIfDue(): Promise<void> {
    const nowMs = this.now();
    const aged = nowMs - this.activeStartMs >= this.maxAgeMs;
    if (this.activeBytes < this.maxBytes && !aged) return;
    this.activeStartMs = nowMs;
    if (this.activeBytes === 0) return;
    this.activeBytes = 0; // also on failure: back off for another maxFileBytes instead of retrying every line
    try {
      await this.closeHandle();
      this.seq = await sealActiveLog(this.opts.dir, nowMs, this.seq);
    } catch (err) {
      return this.report(err);
    }
    await pruneSealedLogs(this.opts.dir, this.opts.maxFiles).catch(this.report);
  }

  /** First queued line always; more while the active file stays under maxFileBytes (the per-line size rule). */
  private takeBatch(): { text: string; bytes: number; lines: number } {
    let bytes = 0;
    let count = 0;
    for (const line of this.queue) {
      const size = Buffer.byteLength(line);
      if (count > 0 && (this.activeBytes + bytes >= this.maxBytes || bytes + size > MAX_BATCH_BYTES)) break;
      bytes += size;
      count++;
    }
    const text = this.queue.splice(0, count).join('');
    return { text, bytes, lines: count };
  }

  private async appendBatch(text: string, bytes: number): Promise<void> {
    if (!this.handle) throw new Error('request log file is not open');
    // One write(2) for the batch (the file is open for appending); a short write is finished off.
    const buffer = Buffer.from(text, 'utf8');
    for (let at = 0; at < buffer.length; ) at += (await this.handle.write(buffer, at)).bytesWritten;
    this.activeBytes += bytes;
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close().catch(this.report);
  }

  private settle(lines: number): void {
    this.settled += lines;
    const due = this.waiters.filter((w) => w.target <= this.settled);
    if (due.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.target > this.settled);
    for (const w of due) w.resolve();
  }
}

function safeReporter(onError: ((err: unknown) => void) | undefined): (err: unknown) => void {
  return (err) => {
    try {
      if (onError) onError(err);
      else process.emitWarning(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A broken error sink must not stop the log worker.
    }
  };
}
