import { randomBytes } from 'node:crypto';
import { readdir, readFile, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { listSegmentNames, readUsageJournalSegment, UsageJournal } from '../observe/usage-journal.js';
import { acquireDataDirLock, DataDirLockedError } from '../store/dir-lock.js';
import type { Db } from '../store/db.js';
import type { KeyUsageDelta, UsageRollupDelta } from '../store/types.js';
import { applyJournaledBatch, deleteJournalMark, findDatabaseId, replayJournaledUsage } from '../store/usage-journal-repo.js';

/**
 * The usage journal of a data-plane process, and the replay of journals that stopped processes left.
 *
 * `<data-dir>/usage-journal/` holds one directory per writer (one process lifetime), named
 * `w-<start time, base 36>-<pid>-<8 hex>` and locked like the data directory itself (`gateway.lock`
 * with pid and start time; a dead or reused pid is stale). Several `serve` processes may share the
 * folder: each writes only its own directory. At start a process first takes its own directory, then
 * replays every directory whose lock it can take (its writer is gone: killed, crashed, or stopped
 * while the database was unreachable), before the first snapshot is loaded and before it listens.
 * A live writer's directory is locked, so it is never replayed behind its back; two processes
 * starting together both try, the lock lets one through, and the database mark (taken under a row
 * lock) would still keep a second replay from adding anything. Each directory also names the
 * database it was written for (`database-id`, the id migration 0007 gave it); a journal of another
 * database is left alone, so a data directory pointed at a new database never moves usage across.
 *
 * Replay order, chosen so a kill at any point is safe: add the records past the mark (one
 * transaction per segment, moving the mark) → delete the segments → delete the mark row → release
 * the lock → remove the directory. A kill before the segments are gone replays them again and the
 * mark skips them; a kill after leaves only an unused mark row, never a double count.
 */

/** The journal folder under the data directory. */
export const USAGE_JOURNAL_DIR_NAME = 'usage-journal';
const WRITER_DIR = /^w-[0-9a-z]+-\d+-[0-9a-f]{8}$/;
/** File in each writer directory naming the database the journal belongs to. */
const DATABASE_ID_FILE = 'database-id';
/** A segment is closed once this big … */
const SEGMENT_MAX_BYTES = 8 * 1024 * 1024;
/** … or this old (then deleted as soon as the database holds it all). */
const SEGMENT_MAX_AGE_MS = 5 * 60_000;

/** This process's journal, ready for the usage recorder. */
export interface LocalUsageJournal {
  readonly journal: UsageJournal;
  readonly writerId: string;
  /** The recorder's `apply`: the batch's increments, its rollup rows and this writer's mark, in one transaction. */
  apply(deltas: KeyUsageDelta[], throughSeq: number, rollups: UsageRollupDelta[]): Promise<void>;
  /**
   * After the recorder's last flush: deletes the journal, its mark and its directory when the
   * database holds everything; otherwise leaves the files (fsync'd) for the next start to replay.
   */
  close(): Promise<void>;
}

/**
 * Opens this process's journal in `<dataDir>/usage-journal/<writer id>` and replays, under their
 * locks, the journals that stopped processes left there. Rejects when a replay fails (for instance
 * the database is unreachable): the process must not serve with usage it has not counted.
 */
export async function openLocalUsageJournal(opts: { dataDir: string; db: Db; syncIntervalMs: number; logger: FastifyBaseLogger }): Promise<LocalUsageJournal> {
  const { db, logger } = opts;
  const rootDir = join(opts.dataDir, USAGE_JOURNAL_DIR_NAME);
  const writerId = `w-${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = join(rootDir, writerId);
  const databaseId = await findDatabaseId(db);
  const lock = await acquireDataDirLock(dir);
  try {
    await writeFile(join(dir, DATABASE_ID_FILE), `${databaseId}\n`);
    await replayStoppedJournals({ rootDir, ownWriterId: writerId, databaseId, db, logger });
  } catch (err) {
    await lock.release();
    await removeWriterDir(dir);
    throw err;
  }
  const journal = new UsageJournal({
    dir,
    maxFileBytes: SEGMENT_MAX_BYTES,
    maxFileAgeMs: SEGMENT_MAX_AGE_MS,
    syncIntervalMs: opts.syncIntervalMs,
    onError: (err) =>
      logger.warn(
        { err: describeError(err), writerId },
        'usage journal write failed; the usage is still counted, but a kill before the next flush would lose it',
      ),
  });
  return {
    journal,
    writerId,
    apply: (deltas, throughSeq, rollups) => applyJournaledBatch(db, writerId, throughSeq, deltas, rollups),
    async close() {
      const empty = journal.close();
      // A mark row left behind (the database went away just now) is unused, never harmful.
      if (empty)
        await deleteJournalMark(db, writerId).catch((err: unknown) =>
          logger.warn({ err: describeError(err), writerId }, 'could not delete the usage journal mark'),
        );
      await lock.release();
      if (empty) await removeWriterDir(dir);
      else logger.warn({ writerId }, 'usage journal kept: some usage is not in the database yet; the next start on this data directory adds it');
    },
  };
}

interface ReplayContext {
  rootDir: string;
  ownWriterId: string;
  databaseId: string;
  db: Db;
  logger: FastifyBaseLogger;
}

/** Replays every writer directory in `rootDir` but our own that belongs to this database and whose lock can be taken. */
async function replayStoppedJournals(ctx: ReplayContext): Promise<void> {
  const writers = (await readdir(ctx.rootDir)).filter((name) => name !== ctx.ownWriterId && WRITER_DIR.test(name));
  for (const writerId of writers) {
    const dir = join(ctx.rootDir, writerId);
    const owner = await readFile(join(dir, DATABASE_ID_FILE), 'utf8').then(
      (text) => text.trim(),
      () => null,
    );
    if (owner !== null && owner !== ctx.databaseId) {
      ctx.logger.warn({ writerId, journalDatabaseId: owner, databaseId: ctx.databaseId }, 'usage journal left alone: it belongs to another database');
      continue;
    }
    const lock = await acquireDataDirLock(dir).catch((err: unknown) => {
      if (err instanceof DataDirLockedError) return null; // a live process writes there
      throw err;
    });
    if (!lock) continue;
    try {
      await replayJournal(dir, writerId, ctx);
    } finally {
      await lock.release();
    }
    await removeWriterDir(dir);
  }
}

/** Adds one stopped writer's records past its mark, then deletes its segments and its mark. */
async function replayJournal(dir: string, writerId: string, { db, logger }: ReplayContext): Promise<void> {
  const segments = listSegmentNames(dir);
  let added = 0;
  for (const segment of segments) {
    const contents = readUsageJournalSegment(dir, segment);
    for (const skip of contents.skipped) {
      logger.warn({ writerId, segment: skip.segment, line: skip.line, reason: skip.reason }, `usage journal: skipped a ${skip.reason} record`);
    }
    added += await replayJournaledUsage(db, writerId, contents.records);
  }
  for (const segment of segments) await unlink(join(dir, segment));
  await deleteJournalMark(db, writerId);
  if (segments.length > 0)
    logger.info(
      { writerId, segments: segments.length, addedRecords: added },
      `replayed the usage journal of a stopped process: ${added} increment(s) were not in the database yet`,
    );
}

/**
 * Removes a writer directory once its journal is gone (its database-id file is all that is left). A
 * process that locked it meanwhile finds nothing to replay; then the directory stays until next time.
 */
async function removeWriterDir(dir: string): Promise<void> {
  await unlink(join(dir, DATABASE_ID_FILE)).catch(() => undefined);
  await rmdir(dir).catch(() => undefined);
}

function describeError(err: unknown): { code?: string; message: string } {
  return err instanceof Error ? { code: (err as { code?: string }).code, message: err.message } : { message: String(err) };
}
