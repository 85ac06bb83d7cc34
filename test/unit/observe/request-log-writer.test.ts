import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DirLockedError } from '../../../src/store/dir-lock.js';
import type { ImageLogEvent } from '../../../src/observe/image-log-event.js';
import { REQUEST_LOG_FILES, isSealedLogName } from '../../../src/observe/request-log-files.js';
import { LINGER_MS, createRequestLogWriter, type RequestLogWriter, type RequestLogWriterOptions } from '../../../src/observe/request-log-writer.js';
import { makeLogEvent } from '../../support/log-events.js';

const dirs: string[] = [];
const writers: RequestLogWriter[] = [];

afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function makeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cig-log-'));
  dirs.push(dir);
  return dir;
}

function makeWriter(opts: Partial<RequestLogWriterOptions> & { dir: string }): RequestLogWriter {
  const writer = createRequestLogWriter({ maxFileBytes: 1 << 20, maxFileAgeMs: 3_600_000, maxFiles: 10, ...opts });
  writers.push(writer);
  return writer;
}

function sampleEvent(i: number): ImageLogEvent {
  return makeLogEvent({
    ts: 1_700_000_000_000 + i,
    request_id: `req-${i}`,
    key_id: 'key-1',
    key_name: 'k',
    model: 'gpt-image-2',
    prompt_hash: 'a'.repeat(64),
    size: '1024x1024',
    duration_ms: 10,
    upstream_ttfb_ms: 5,
    response_image_bytes: 6,
    usage_tokens: 42,
    input_tokens: 10,
    output_tokens: 32,
  });
}

function sealedNames(dir: string): string[] {
  const parts = (name: string) => name.match(/\d+/g)?.map(Number) ?? [];
  return readdirSync(dir)
    .filter(isSealedLogName)
    .sort((a, b) => parts(a)[0]! - parts(b)[0]! || parts(a)[1]! - parts(b)[1]!);
}

function readIds(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as ImageLogEvent).request_id);
}

describe('request log batching', () => {
  // Only the linger timer is faked: file I/O and setImmediate stay real.
  const fakeLinger = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  afterEach(() => {
    vi.useRealTimers();
  });
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('holds lines from separate turns of the event loop for LINGER_MS, then writes them', async () => {
    fakeLinger();
    const dir = makeDir();
    const writer = makeWriter({ dir });
    writer.write(sampleEvent(1));
    await nextTurn();
    await nextTurn();
    writer.write(sampleEvent(2));
    await nextTurn();
    expect(vi.getTimerCount()).toBe(1);
    expect(writer.stats()).toMatchObject({ queuedLines: 2, writtenLines: 0 });
    expect(readdirSync(dir)).not.toContain(REQUEST_LOG_FILES.active);
    vi.advanceTimersByTime(LINGER_MS);
    await writer.flush();
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(['req-1', 'req-2']);
    expect(writer.stats()).toMatchObject({ writtenLines: 2, droppedLines: 0 });
  });

  it('flush writes lingering lines at once', async () => {
    fakeLinger();
    const dir = makeDir();
    const writer = makeWriter({ dir });
    writer.write(sampleEvent(1));
    expect(vi.getTimerCount()).toBe(1);
    await writer.flush(); // the fake clock never moves: this resolves only if flush starts the write
    expect(vi.getTimerCount()).toBe(0);
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(['req-1']);
  });
});

describe('request log rotation', () => {
  it('rotates by size and prunes sealed logs: max bytes 1, max files 2, 4 appends', async () => {
    const dir = makeDir();
    const writer = makeWriter({ dir, maxFileBytes: 1, maxFiles: 2, now: () => 5_000 });
    for (let i = 1; i <= 4; i++) writer.write(sampleEvent(i));
    await writer.flush();
    const sealed = sealedNames(dir);
    expect(sealed).toEqual(['codex-image-5000-1.jsonl', 'codex-image-5000-2.jsonl']);
    expect(sealed.map((n) => readIds(join(dir, n)))).toEqual([['req-2'], ['req-3']]);
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(['req-4']);
  });

  it.each([
    { maxFileAgeMs: 1, advanceMs: 0, sealed: 0 },
    { maxFileAgeMs: 1, advanceMs: 1, sealed: 1 },
    { maxFileAgeMs: 1_000, advanceMs: 999, sealed: 0 },
    { maxFileAgeMs: 1_000, advanceMs: 1_000, sealed: 1 },
  ])('age $maxFileAgeMs ms, clock +$advanceMs ms → $sealed sealed + active', async ({ maxFileAgeMs, advanceMs, sealed }) => {
    const dir = makeDir();
    let nowMs = 0;
    const writer = makeWriter({ dir, maxFileAgeMs, now: () => nowMs });
    writer.write(sampleEvent(1));
    await writer.flush();
    nowMs += advanceMs;
    writer.write(sampleEvent(2));
    await writer.flush();
    expect(sealedNames(dir)).toHaveLength(sealed);
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(sealed ? ['req-2'] : ['req-1', 'req-2']);
  });

  it('an aged but empty active file restarts its clock instead of sealing an empty file', async () => {
    const dir = makeDir();
    let nowMs = 0;
    const writer = makeWriter({ dir, maxFileAgeMs: 10, now: () => nowMs });
    nowMs = 50;
    writer.write(sampleEvent(1));
    await writer.flush();
    expect(sealedNames(dir)).toEqual([]);
  });

  it('counts the existing active file size at open', async () => {
    const dir = makeDir();
    writeFileSync(join(dir, REQUEST_LOG_FILES.active), '{"old":1}\n');
    const writer = makeWriter({ dir, maxFileBytes: 10, now: () => 7 });
    writer.write(sampleEvent(1));
    await writer.flush();
    expect(sealedNames(dir)).toEqual(['codex-image-7-0.jsonl']);
    expect(readFileSync(join(dir, 'codex-image-7-0.jsonl'), 'utf8')).toBe('{"old":1}\n');
  });

  it('bumps the sequence past a sealed name that already exists', async () => {
    const dir = makeDir();
    writeFileSync(join(dir, 'codex-image-9-0.jsonl'), 'x\n');
    writeFileSync(join(dir, REQUEST_LOG_FILES.active), 'y\n');
    const writer = makeWriter({ dir, maxFileBytes: 1, now: () => 9 });
    writer.write(sampleEvent(1));
    await writer.flush();
    expect(sealedNames(dir)).toEqual(['codex-image-9-0.jsonl', 'codex-image-9-1.jsonl']);
    expect(readFileSync(join(dir, 'codex-image-9-1.jsonl'), 'utf8')).toBe('y\n');
  });
});

describe('request log writer queue', () => {
  it('keeps 1,000 rapid writes as valid JSON lines in order, across rotations', async () => {
    const dir = makeDir();
    const writer = makeWriter({ dir, maxFileBytes: 40_000, maxFiles: 1_000 });
    for (let i = 0; i < 1_000; i++) writer.write(sampleEvent(i));
    await writer.flush();
    const files = [...sealedNames(dir), REQUEST_LOG_FILES.active];
    expect(files.length).toBeGreaterThan(2);
    const ids = files.flatMap((f) => readIds(join(dir, f)));
    expect(ids).toEqual(Array.from({ length: 1_000 }, (_, i) => `req-${i}`));
    expect(writer.stats()).toEqual({ writtenLines: 1_000, droppedLines: 0, queuedLines: 0 });
  });

  it('drops and counts lines beyond the queue bound, reporting the overflow once', async () => {
    const dir = makeDir();
    const errors: unknown[] = [];
    const writer = makeWriter({ dir, maxQueuedLines: 10, onError: (e) => errors.push(e) });
    for (let i = 0; i < 15; i++) writer.write(sampleEvent(i));
    await writer.flush();
    expect(writer.stats()).toMatchObject({ writtenLines: 10, droppedLines: 5 });
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toHaveLength(10);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('queue is full');
  });

  it('reports a failing directory, never throws from write, and recovers when the directory returns', async () => {
    const dir = makeDir();
    const errors: unknown[] = [];
    const writer = makeWriter({ dir, onError: (e) => errors.push(e) });
    rmSync(dir, { recursive: true, force: true });
    expect(() => writer.write(sampleEvent(1))).not.toThrow();
    await writer.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(writer.stats()).toMatchObject({ writtenLines: 0, droppedLines: 1 });
    mkdirSync(dir);
    writer.write(sampleEvent(2));
    await writer.flush();
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(['req-2']);
  });

  it('reports a prune failure and keeps writing', async () => {
    const dir = makeDir();
    mkdirSync(join(dir, 'codex-image-0-0.jsonl')); // a directory where pruning expects a file: unlink fails
    const errors: unknown[] = [];
    const writer = makeWriter({ dir, maxFileBytes: 1, maxFiles: 1, now: () => 1, onError: (e) => errors.push(e) });
    for (let i = 1; i <= 3; i++) writer.write(sampleEvent(i));
    await writer.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(['EISDIR', 'EPERM']).toContain((errors[0] as NodeJS.ErrnoException).code);
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(['req-3']);
    expect(writer.stats()).toMatchObject({ writtenLines: 3, droppedLines: 0 });
    // The other surplus files were still pruned: the blocking directory plus the newest sealed file remain.
    expect(sealedNames(dir)).toEqual(['codex-image-0-0.jsonl', 'codex-image-1-1.jsonl']);
  });

  it('a throwing onError does not stop the worker', async () => {
    const dir = makeDir();
    const writer = makeWriter({
      dir,
      maxQueuedLines: 1,
      onError: () => {
        throw new Error('sink down');
      },
    });
    writer.write(sampleEvent(1));
    writer.write(sampleEvent(2));
    await writer.flush();
    writer.write(sampleEvent(3));
    await writer.flush();
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(['req-1', 'req-3']);
  });

  it('drops writes after close without throwing', async () => {
    const dir = makeDir();
    const writer = makeWriter({ dir });
    writer.write(sampleEvent(1));
    await writer.close();
    expect(() => writer.write(sampleEvent(2))).not.toThrow();
    expect(writer.stats()).toMatchObject({ writtenLines: 1, droppedLines: 1 });
    expect(readIds(join(dir, REQUEST_LOG_FILES.active))).toEqual(['req-1']);
  });
});

/** The pid in a request-log directory's lock file. */
const lockHolderPid = (dir: string): unknown => (JSON.parse(readFileSync(join(dir, REQUEST_LOG_FILES.lock), 'utf8')) as { pid?: unknown }).pid;

describe('request log directory lock', () => {
  it('refuses a second writer on the same directory until the first closes', async () => {
    const dir = makeDir();
    const first = makeWriter({ dir });
    expect(() => makeWriter({ dir })).toThrow(DirLockedError);
    expect(lockHolderPid(dir)).toBe(process.pid);
    await first.close();
    expect(readdirSync(dir)).not.toContain(REQUEST_LOG_FILES.lock);
    expect(() => makeWriter({ dir })).not.toThrow();
  });

  it('refuses a lock held by another live process', () => {
    const dir = makeDir();
    writeFileSync(join(dir, REQUEST_LOG_FILES.lock), JSON.stringify({ pid: process.ppid, startedAt: Date.now() }));
    expect(() => makeWriter({ dir })).toThrow(/held by live process/);
  });

  it.each([
    { name: 'a dead pid', content: () => JSON.stringify({ pid: spawnSync(process.execPath, ['-e', '']).pid, startedAt: Date.now() }) },
    { name: 'our own pid not held by this process (container restart)', content: () => JSON.stringify({ pid: process.pid, startedAt: 1 }) },
    { name: 'garbage', content: () => 'not-a-pid' },
  ])('takes over a stale lock holding $name', ({ content }) => {
    const dir = makeDir();
    writeFileSync(join(dir, REQUEST_LOG_FILES.lock), content());
    expect(() => makeWriter({ dir })).not.toThrow();
    expect(lockHolderPid(dir)).toBe(process.pid);
  });
});
