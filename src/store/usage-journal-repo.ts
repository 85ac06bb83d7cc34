import type { Db } from './db.js';
import type { KeyUsageDelta, UsageRollupDelta, UsageRollupFacts } from './types.js';
import { upsertUsageRollups } from './usage-rollup-repo.js';
import { UsageRollupAccumulator } from './usage-rollups.js';
import { retryUsageWrite, upsertUsageDeltas } from './usage-repo.js';

/**
 * Usage written from a process's local usage journal (observe/usage-journal.ts), exactly once.
 *
 * Every journal record carries a sequence number, increasing within one journal (one writer). The
 * table `usage_journal_marks` holds, per writer, the highest record whose increment is in
 * `key_usage`, and every write below moves that mark in the same transaction as the increments. A
 * journal replayed after a kill therefore adds only the records past its mark: a batch that was
 * committed just before the kill (its journal not yet trimmed) is skipped, one that was not is added.
 * The usage rollups (`usage_hourly`) ride in the same transactions, so they are exactly as complete.
 */

/** One journal record: its sequence number and the usage it adds. */
export interface JournaledDelta {
  seq: number;
  delta: KeyUsageDelta;
  /** Its rollup facts; null in a record written before rollups existed (it then counts in `key_usage` only). */
  facts: UsageRollupFacts | null;
}

const MARK_UPSERT_SQL = `
  INSERT INTO usage_journal_marks AS m (writer_id, applied_seq, updated_at) VALUES ($1, $2, $3)
  ON CONFLICT (writer_id) DO UPDATE SET applied_seq = GREATEST(m.applied_seq, EXCLUDED.applied_seq), updated_at = EXCLUDED.updated_at`;

/**
 * Adds a live writer's batch (every record after its previous mark, up to `throughSeq`: key counters
 * and the same requests' rollup rows) and moves its mark to `throughSeq`, in one transaction. Only
 * the writer itself calls this while it runs.
 */
export function applyJournaledBatch(
  db: Db,
  writerId: string,
  throughSeq: number,
  deltas: readonly KeyUsageDelta[],
  rollups: readonly UsageRollupDelta[] = [],
): Promise<void> {
  return retryUsageWrite(() =>
    db.transaction(async (tx) => {
      await upsertUsageDeltas(tx, deltas);
      await upsertUsageRollups(tx, rollups);
      await tx.query(MARK_UPSERT_SQL, [writerId, throughSeq, Date.now()]);
    }),
  );
}

/**
 * Adds the records of a stopped writer's journal that its mark does not cover, and moves the mark
 * past them. The mark row is read under a row lock (created first when missing), so two processes
 * replaying the same journal at once still add each record once. Returns how many records it added.
 */
export function replayJournaledUsage(db: Db, writerId: string, records: readonly JournaledDelta[]): Promise<number> {
  return retryUsageWrite(() =>
    db.transaction(async (tx) => {
      await tx.query('INSERT INTO usage_journal_marks (writer_id, applied_seq, updated_at) VALUES ($1, 0, $2) ON CONFLICT (writer_id) DO NOTHING', [
        writerId,
        Date.now(),
      ]);
      const [row] = await tx.query<{ appliedSeq: number }>('SELECT applied_seq AS "appliedSeq" FROM usage_journal_marks WHERE writer_id = $1 FOR UPDATE', [
        writerId,
      ]);
      const fresh = records.filter((r) => r.seq > Number(row?.appliedSeq ?? 0));
      if (fresh.length === 0) return 0;
      await upsertUsageDeltas(
        tx,
        fresh.map((r) => r.delta),
      );
      await upsertUsageRollups(tx, buildRollupRows(fresh));
      await tx.query(MARK_UPSERT_SQL, [writerId, fresh.reduce((max, r) => Math.max(max, r.seq), 0), Date.now()]);
      return fresh.length;
    }),
  );
}

/** A writer's mark, or null when it has none (never flushed, or its journal is gone). */
export async function findJournalMark(db: Db, writerId: string): Promise<number | null> {
  const [row] = await db.query<{ appliedSeq: number }>('SELECT applied_seq AS "appliedSeq" FROM usage_journal_marks WHERE writer_id = $1', [writerId]);
  return row ? Number(row.appliedSeq) : null;
}

/** Forgets a writer's mark; only once its journal files are deleted (before that, a replay needs it). */
export async function deleteJournalMark(db: Db, writerId: string): Promise<void> {
  await db.query('DELETE FROM usage_journal_marks WHERE writer_id = $1', [writerId]);
}

/** This database's random id (migration 0007): a journal is replayed only into the database it was written for. */
export async function findDatabaseId(db: Db): Promise<string> {
  const [row] = await db.query<{ databaseId: string }>('SELECT database_id AS "databaseId" FROM database_identity WHERE id = 1');
  if (!row) throw new Error('database_identity has no row: the database was not migrated by this release');
  return row.databaseId;
}

/** The rollup rows of journal records (those without facts add none). */
function buildRollupRows(records: readonly JournaledDelta[]): UsageRollupDelta[] {
  const rollups = new UsageRollupAccumulator();
  for (const record of records) if (record.facts) rollups.add(record.delta, record.facts);
  return rollups.rows();
}
