import type { DbQuerier, DbTx } from './db.js';
import type { ModelAliasRecord } from './types.js';

const MODEL_ALIAS_SELECT = `
  SELECT alias, upstream_model AS "upstreamModel", created_at AS "createdAt", updated_at AS "updatedAt"
    FROM model_aliases`;

/** Every model alias row, ordered by alias (byte order, the same on every backend). */
export function listModelAliases(db: DbQuerier): Promise<ModelAliasRecord[]> {
  return db.query<ModelAliasRecord>(`${MODEL_ALIAS_SELECT} ORDER BY alias COLLATE "C"`);
}

/** Inserts or replaces one row; `createdAt` of an existing row is kept. Returns the stored row. */
export async function upsertModelAlias(tx: DbTx, alias: string, upstreamModel: string, at: number): Promise<ModelAliasRecord> {
  const [row] = await tx.query<ModelAliasRecord>(
    `INSERT INTO model_aliases (alias, upstream_model, created_at, updated_at) VALUES ($1, $2, $3, $3)
     ON CONFLICT (alias) DO UPDATE SET upstream_model = EXCLUDED.upstream_model, updated_at = EXCLUDED.updated_at
     RETURNING alias, upstream_model AS "upstreamModel", created_at AS "createdAt", updated_at AS "updatedAt"`,
    [alias, upstreamModel, at],
  );
  return row!;
}

/** Deletes one row; false when there was none. */
export async function deleteModelAlias(tx: DbTx, alias: string): Promise<boolean> {
  const rows = await tx.query<{ alias: string }>('DELETE FROM model_aliases WHERE alias = $1 RETURNING alias', [alias]);
  return rows.length > 0;
}

/** Replaces every row with `rows` (all stamped `at`). */
export async function replaceModelAliases(tx: DbTx, rows: ReadonlyArray<{ alias: string; upstreamModel: string }>, at: number): Promise<void> {
  await tx.query('DELETE FROM model_aliases');
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO model_aliases (alias, upstream_model, created_at, updated_at)
     SELECT t.alias, t.upstream_model, $3, $3 FROM unnest($1::text[], $2::text[]) AS t(alias, upstream_model)`,
    [rows.map((r) => r.alias), rows.map((r) => r.upstreamModel), at],
  );
}
