import type { DbQuerier } from './db.js';

/** The image types a hosted result may have (the table's CHECK holds the same list). */
export const HOSTED_RESULT_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export type HostedResultType = (typeof HOSTED_RESULT_TYPES)[number];

/** One row of `hosted_results`: only the secret's hash and the sealed image, never the token or the bytes. */
export interface HostedResultRow {
  /** Lowercase hex SHA-256 of the token's secret (Capability.idHash). */
  idHash: string;
  contentType: HostedResultType;
  /** iv ‖ tag ‖ ciphertext of the image bytes (capability-seal.ts). */
  sealed: Buffer;
  /** ms since the epoch. */
  createdAt: number;
  /** ms since the epoch; the row is not served from then on. */
  expiresAt: number;
}

interface RawRow {
  id_hash: string;
  content_type: HostedResultType;
  sealed: Buffer;
  created_at: number;
  expires_at: number;
}

/** Stores one sealed result; resolves once the row is committed (a single statement). */
export async function insertHostedResult(db: DbQuerier, row: HostedResultRow): Promise<void> {
  await db.query('INSERT INTO hosted_results (id_hash, content_type, sealed, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
    row.idHash,
    row.contentType,
    row.sealed,
    row.createdAt,
    row.expiresAt,
  ]);
}

/** The unexpired row with this hash at `nowMs`; null when there is none (unknown, or expired and not swept yet). */
export async function findHostedResult(db: DbQuerier, idHash: string, nowMs: number): Promise<HostedResultRow | null> {
  const rows = await db.query<RawRow>(
    'SELECT id_hash, content_type, sealed, created_at, expires_at FROM hosted_results WHERE id_hash = $1 AND expires_at > $2',
    [idHash, nowMs],
  );
  const row = rows[0];
  return row ? { idHash: row.id_hash, contentType: row.content_type, sealed: row.sealed, createdAt: row.created_at, expiresAt: row.expires_at } : null;
}

/** Deletes every row expired at `nowMs`; returns how many went. */
export async function deleteExpiredHostedResults(db: DbQuerier, nowMs: number): Promise<number> {
  const rows = await db.query<{ id_hash: string }>('DELETE FROM hosted_results WHERE expires_at <= $1 RETURNING id_hash', [nowMs]);
  return rows.length;
}
