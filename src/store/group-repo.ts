import type { DbQuerier, DbTx } from './db.js';
import type { GroupRecord } from './types.js';

const GROUP_SELECT = `
  SELECT g.id, g.name,
         COALESCE((SELECT array_agg(ga.account_id ORDER BY ga.position) FROM group_accounts ga WHERE ga.group_id = g.id),
                  ARRAY[]::text[]) AS "accountIds",
         g.created_at AS "createdAt", g.updated_at AS "updatedAt"
    FROM groups g`;

/** Every group with its ordered account ids, ordered by name. */
export function listGroups(db: DbQuerier): Promise<GroupRecord[]> {
  return db.query<GroupRecord>(`${GROUP_SELECT} ORDER BY g.name`);
}

/** The group whose id or else name is `ref`, or null. */
export async function findGroup(db: DbQuerier, ref: string): Promise<GroupRecord | null> {
  const [row] = await db.query<GroupRecord>(`${GROUP_SELECT} WHERE g.id = $1 OR g.name = $1 ORDER BY (g.id = $1) DESC LIMIT 1`, [ref]);
  return row ?? null;
}

/** Inserts a new group and its account list. */
export async function insertGroup(tx: DbTx, group: GroupRecord): Promise<void> {
  await tx.query('INSERT INTO groups (id, name, created_at, updated_at) VALUES ($1, $2, $3, $4)', [group.id, group.name, group.createdAt, group.updatedAt]);
  await replaceGroupAccounts(tx, group);
}

/** Renames a group and replaces its account list. */
export async function updateGroup(tx: DbTx, group: GroupRecord): Promise<boolean> {
  const rows = await tx.query<{ id: string }>('UPDATE groups SET name = $2, updated_at = $3 WHERE id = $1 RETURNING id', [
    group.id,
    group.name,
    group.updatedAt,
  ]);
  if (rows.length === 0) return false;
  await replaceGroupAccounts(tx, group);
  return true;
}

/** Deletes a group; fails with a foreign-key violation while a key routes to it. False when there was none. */
export async function deleteGroup(tx: DbTx, id: string): Promise<boolean> {
  const rows = await tx.query<{ id: string }>('DELETE FROM groups WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

async function replaceGroupAccounts(tx: DbTx, group: GroupRecord): Promise<void> {
  await tx.query('DELETE FROM group_accounts WHERE group_id = $1', [group.id]);
  if (group.accountIds.length === 0) return;
  await tx.query(
    `INSERT INTO group_accounts (group_id, account_id, position)
     SELECT $1, t.account_id, (t.n - 1)::int FROM unnest($2::text[]) WITH ORDINALITY AS t(account_id, n)`,
    [group.id, group.accountIds],
  );
}

/** Id and name of every group (for showing references by name). */
export function listGroupNames(db: DbQuerier): Promise<Array<{ id: string; name: string }>> {
  return db.query<{ id: string; name: string }>('SELECT id, name FROM groups ORDER BY name');
}
