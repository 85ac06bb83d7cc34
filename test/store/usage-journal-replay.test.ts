import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { openLocalUsageJournal, USAGE_JOURNAL_DIR_NAME } from '../../src/runtime/usage-journal-runtime.js';
import { acquireDataDirLock, DATA_DIR_LOCK_FILE } from '../../src/store/dir-lock.js';
import { insertKey } from '../../src/store/key-repo.js';
import { migrate } from '../../src/store/migrator.js';
import type { KeyUsageDelta } from '../../src/store/types.js';
import { applyJournaledBatch, findDatabaseId, findJournalMark, replayJournaledUsage, type JournaledDelta } from '../../src/store/usage-journal-repo.js';
import { findKeyUsage } from '../../src/store/usage-repo.js';
import { describeEachBackend } from '../support/databases.js';
import { makeKey } from '../support/snapshot-fixtures.js';

const KEY = 'key_0000000000000000000000c1';
const DEAD_WRITER = 'w-abc123-4194000-0badf00d';
/** A pid above Linux's pid_max ceiling (2^22): never a live process. */
const DEAD_PID = 4_194_400;

const delta = (overrides: Partial<KeyUsageDelta> = {}): KeyUsageDelta => ({
  keyId: KEY,
  requests: 1,
  successes: 1,
  images: 1,
  inputTokens: 0,
  outputTokens: 0,
  totalTokens: 10,
  usageMissing: 0,
  estimatedCostMicros: 0,
  lastUsedAt: 1_000,
  ...overrides,
});
const records = (from: number, to: number): JournaledDelta[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, delta: delta(), facts: null }));
const recordLine = (seq: number) => `${JSON.stringify({ seq, ...delta() })}\n`;

function captureLogger(): { logger: FastifyBaseLogger; lines: () => Array<{ level: number; msg: string; reason?: string }> } {
  const out: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => out.push(line) }) as unknown as FastifyBaseLogger;
  return { logger, lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string }) };
}

describeEachBackend('usage journal replay', ({ database }) => {
  let dataDir = '';
  const journalDir = () => join(dataDir, USAGE_JOURNAL_DIR_NAME);

  /** What a process killed with -9 leaves: its directory, its lock naming a dead pid, its database id, segments. */
  async function leaveDeadWriter(segments: Record<string, string>, opts: { databaseId?: string; writerId?: string } = {}): Promise<string> {
    const dir = join(journalDir(), opts.writerId ?? DEAD_WRITER);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), `${JSON.stringify({ pid: DEAD_PID, startedAt: 1 })}\n`);
    writeFileSync(join(dir, 'database-id'), `${opts.databaseId ?? (await findDatabaseId(database().db))}\n`);
    for (const [name, text] of Object.entries(segments)) writeFileSync(join(dir, name), text);
    return dir;
  }

  const usage = async () => (await findKeyUsage(database().db, KEY))?.successes ?? 0;

  beforeAll(async () => {
    await migrate(database().db);
    await database().db.transaction((tx) => insertKey(tx, makeKey({ id: KEY, name: 'journal', hash: 'c'.repeat(64) })));
  });
  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cig-journal-replay-'));
    await database().db.query('DELETE FROM key_usage');
    await database().db.query('DELETE FROM usage_journal_marks');
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('adds only the records past the mark, skips a torn last record, then removes the journal and its mark', async () => {
    const { db } = database();
    // Records 1-2 reached the database (with their mark) just before the kill; 3-5 did not; 6 was cut mid-line.
    await applyJournaledBatch(db, DEAD_WRITER, 2, [delta(), delta()]);
    await leaveDeadWriter({
      'segment-0000000000000001.jsonl': recordLine(1) + recordLine(2) + recordLine(3),
      'segment-0000000000000004.jsonl': recordLine(4) + recordLine(5) + recordLine(6).slice(0, 30),
    });
    const log = captureLogger();
    const local = await openLocalUsageJournal({ dataDir, db, syncIntervalMs: 10, logger: log.logger });
    expect(await usage()).toBe(5);
    expect(readdirSync(journalDir())).toEqual([local.writerId]);
    expect(await findJournalMark(db, DEAD_WRITER)).toBeNull();
    expect(log.lines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 40, reason: 'torn', msg: 'usage journal: skipped a torn record' }),
        expect.objectContaining({ level: 30, msg: expect.stringContaining('3 increment(s) were not in the database yet') }),
      ]),
    );
    await local.close();
    expect(readdirSync(journalDir())).toEqual([]);
  });

  it('a journal killed after its last flush committed (mark = last record) adds nothing', async () => {
    const { db } = database();
    await applyJournaledBatch(db, DEAD_WRITER, 3, [delta(), delta(), delta()]);
    await leaveDeadWriter({ 'segment-0000000000000001.jsonl': recordLine(1) + recordLine(2) + recordLine(3) });
    const local = await openLocalUsageJournal({ dataDir, db, syncIntervalMs: 10, logger: captureLogger().logger });
    expect(await usage()).toBe(3);
    await local.close();
  });

  it('replaying the same records again, or twice at once, adds each once', async () => {
    const { db } = database();
    // On Postgres a second pool, so the two replays really run at once.
    const second = database().openAnother() ?? db;
    const added = await Promise.all([replayJournaledUsage(db, DEAD_WRITER, records(1, 20)), replayJournaledUsage(second, DEAD_WRITER, records(1, 20))]);
    expect(added.sort((a, b) => a - b)).toEqual([0, 20]);
    expect(await replayJournaledUsage(db, DEAD_WRITER, records(15, 25))).toBe(5);
    expect(await usage()).toBe(25);
    expect(await findJournalMark(db, DEAD_WRITER)).toBe(25);
  });

  it("leaves a live writer's journal and another database's journal alone", async () => {
    const { db } = database();
    const foreign = await leaveDeadWriter(
      { 'segment-0000000000000001.jsonl': recordLine(1) },
      { databaseId: 'f'.repeat(32), writerId: 'w-abc123-4194001-00000001' },
    );
    const live = join(journalDir(), 'w-abc123-4194002-00000002');
    mkdirSync(live, { recursive: true });
    const liveLock = await acquireDataDirLock(live); // held by this (live) process
    writeFileSync(join(live, 'segment-0000000000000001.jsonl'), recordLine(1));
    const log = captureLogger();
    const local = await openLocalUsageJournal({ dataDir, db, syncIntervalMs: 10, logger: log.logger });
    expect(await usage()).toBe(0);
    expect(readdirSync(foreign)).toContain('segment-0000000000000001.jsonl');
    expect(readdirSync(live)).toContain('segment-0000000000000001.jsonl');
    expect(log.lines()).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'usage journal left alone: it belongs to another database' })]));
    await local.close();
    await liveLock.release();
  });

  it("a live journal's flushes move its mark, and a clean close removes journal and mark", async () => {
    const { db } = database();
    const local = await openLocalUsageJournal({ dataDir, db, syncIntervalMs: 10, logger: captureLogger().logger });
    const seq = local.journal.append(delta(), {
      hourStart: 0,
      accountId: null,
      model: 'm',
      endpoint: 'generations',
      failureClass: null,
      upstreamBytes: 0,
      latencyMs: 1,
      unpriced: false,
      imageInputTokens: 0,
    });
    await local.apply([delta()], seq, []);
    local.journal.markApplied(seq);
    expect(await findJournalMark(db, local.writerId)).toBe(1);
    await local.close();
    expect(await findJournalMark(db, local.writerId)).toBeNull();
    expect(readdirSync(journalDir())).toEqual([]);
  });
});
