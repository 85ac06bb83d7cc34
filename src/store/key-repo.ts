import type { DbQuerier, DbTx } from './db.js';
import type { KeyRecord, KeyRouting } from './types.js';

/** A key row with its column names already camelCased by the SELECT; routing and the previous secret still in columns. */
interface KeyRow extends Omit<KeyRecord, 'routing' | 'previousSecret' | 'usageReset'> {
  usageResetAt: number | null;
  usageResetImages: number;
  usageResetTokens: number;
  usageResetCostMicros: number;
  routingMode: KeyRouting['mode'];
  groupId: string | null;
  accountIds: string[];
  previousHash: string | null;
  previousExpiresAt: number | null;
}

// One statement for any number of keys: the ordered account list comes from a correlated subquery.
const KEY_SELECT = `
  SELECT k.id, k.name, k.key_hash AS "hash", k.key_prefix AS "prefix", k.status, k.image_enabled AS "imageEnabled",
         k.quota_period AS "quotaPeriod", k.quota_tokens AS "quotaTokens", k.quota_images AS "quotaImages",
         k.quota_cost_micros AS "quotaCostMicros", k.usage_reset_at AS "usageResetAt", k.usage_reset_images AS "usageResetImages",
         k.usage_reset_tokens AS "usageResetTokens", k.usage_reset_cost_micros AS "usageResetCostMicros", k.max_concurrency AS "maxConcurrency",
         k.min_start_interval_ms AS "minStartIntervalMs", k.routing_mode AS "routingMode", k.group_id AS "groupId",
         COALESCE((SELECT array_agg(ka.account_id ORDER BY ka.position) FROM key_accounts ka WHERE ka.key_id = k.id),
                  ARRAY[]::text[]) AS "accountIds",
         k.expires_at AS "expiresAt", k.previous_key_hash AS "previousHash", k.previous_key_expires_at AS "previousExpiresAt",
         k.created_at AS "createdAt", k.updated_at AS "updatedAt"
    FROM api_keys k`;

/** Every key, ordered by name. */
export async function listKeys(db: DbQuerier): Promise<KeyRecord[]> {
  const rows = await db.query<KeyRow>(`${KEY_SELECT} ORDER BY k.name`);
  return rows.map(toKeyRecord);
}

/** The key whose id or else name is `ref`, or null. */
export async function findKey(db: DbQuerier, ref: string): Promise<KeyRecord | null> {
  const [row] = await db.query<KeyRow>(`${KEY_SELECT} WHERE k.id = $1 OR k.name = $1 ORDER BY (k.id = $1) DESC LIMIT 1`, [ref]);
  return row ? toKeyRecord(row) : null;
}

/** Inserts a new key and its account list. */
export async function insertKey(tx: DbTx, key: KeyRecord): Promise<void> {
  await tx.query(
    `INSERT INTO api_keys (id, name, key_hash, key_prefix, status, image_enabled, quota_tokens, max_concurrency,
                           min_start_interval_ms, routing_mode, group_id, expires_at, quota_period, quota_images,
                           quota_cost_micros, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    [key.id, key.name, key.hash, key.prefix, ...mutableColumns(key), key.createdAt, key.updatedAt],
  );
  await replaceKeyAccounts(tx, key);
}

/**
 * Writes every changeable field of an existing key (not its hash, prefix or creation time). A new
 * quota period drops a usage reset: its baseline was the old period's usage.
 */
export async function updateKey(tx: DbTx, key: KeyRecord): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE api_keys SET name = $2, status = $3, image_enabled = $4, quota_tokens = $5, max_concurrency = $6,
                         min_start_interval_ms = $7, routing_mode = $8, group_id = $9, expires_at = $10,
                         quota_period = $11, quota_images = $12, quota_cost_micros = $13, updated_at = $14,
                         usage_reset_at = CASE WHEN quota_period = $11 THEN usage_reset_at END
      WHERE id = $1 RETURNING id`,
    [key.id, key.name, ...mutableColumns(key), key.updatedAt],
  );
  if (rows.length === 0) return false;
  await replaceKeyAccounts(tx, key);
  return true;
}

/**
 * Gives a key a new secret (hash and display prefix). The old secret's hash stays accepted until
 * `previous.expiresAt` when a grace period is given, and is dropped at once when `previous` is null;
 * a secret rotated out earlier is dropped either way (only the last one replaced can be in grace).
 */
export async function replaceKeySecret(
  tx: DbTx,
  id: string,
  secret: { hash: string; prefix: string },
  previous: KeyRecord['previousSecret'],
  updatedAt: number,
): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE api_keys SET key_hash = $2, key_prefix = $3, previous_key_hash = $4, previous_key_expires_at = $5, updated_at = $6
      WHERE id = $1 RETURNING id`,
    [id, secret.hash, secret.prefix, previous?.hash ?? null, previous?.expiresAt ?? null, updatedAt],
  );
  return rows.length > 0;
}

/** Deletes a key (its account list and usage go with it); false when there was none. */
export async function deleteKey(tx: DbTx, id: string): Promise<boolean> {
  const rows = await tx.query<{ id: string }>('DELETE FROM api_keys WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

/**
 * Records a reset of the key's usage: the moment and its period's usage then (the baseline its
 * budget counts from until the period ends). Changing the key's period later drops the reset.
 */
export async function writeUsageReset(tx: DbTx, id: string, reset: NonNullable<KeyRecord['usageReset']>): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE api_keys SET usage_reset_at = $2, usage_reset_images = $3, usage_reset_tokens = $4, usage_reset_cost_micros = $5, updated_at = $2
      WHERE id = $1 RETURNING id`,
    [id, reset.at, reset.images, reset.tokens, reset.costMicros],
  );
  return rows.length > 0;
}

/** Names of the keys that route to `groupId` (a group in use cannot be deleted). */
export async function listKeyNamesUsingGroup(db: DbQuerier, groupId: string): Promise<string[]> {
  const rows = await db.query<{ name: string }>('SELECT name FROM api_keys WHERE group_id = $1 ORDER BY name', [groupId]);
  return rows.map((row) => row.name);
}

function mutableColumns(key: KeyRecord) {
  return [
    key.status,
    key.imageEnabled,
    key.quotaTokens,
    key.maxConcurrency,
    key.minStartIntervalMs,
    key.routing.mode,
    key.routing.mode === 'group' ? key.routing.groupId : null,
    key.expiresAt,
    key.quotaPeriod,
    key.quotaImages,
    key.quotaCostMicros,
  ] as const;
}

async function replaceKeyAccounts(tx: DbTx, key: KeyRecord): Promise<void> {
  await tx.query('DELETE FROM key_accounts WHERE key_id = $1', [key.id]);
  if (key.routing.mode !== 'accounts' || key.routing.accountIds.length === 0) return;
  await tx.query(
    `INSERT INTO key_accounts (key_id, account_id, position)
     SELECT $1, t.account_id, (t.n - 1)::int FROM unnest($2::text[]) WITH ORDINALITY AS t(account_id, n)`,
    [key.id, key.routing.accountIds],
  );
}

function toKeyRecord(row: KeyRow): KeyRecord {
  const { routingMode, groupId, accountIds, previousHash, previousExpiresAt, usageResetAt, usageResetImages, usageResetTokens, usageResetCostMicros, ...rest } =
    row;
  const previousSecret = previousHash !== null && previousExpiresAt !== null ? { hash: previousHash, expiresAt: previousExpiresAt } : null;
  const usageReset = usageResetAt === null ? null : { at: usageResetAt, images: usageResetImages, tokens: usageResetTokens, costMicros: usageResetCostMicros };
  return { ...rest, routing: buildRouting(routingMode, groupId, accountIds), previousSecret, usageReset };
}

function buildRouting(mode: KeyRouting['mode'], groupId: string | null, accountIds: string[]): KeyRouting {
  switch (mode) {
    case 'accounts':
      return { mode, accountIds };
    case 'group':
      return { mode, groupId: groupId ?? '' };
    case 'all':
      return { mode };
    default:
      // Unreachable under the CHECK constraint; an unknown mode routes nowhere rather than everywhere.
      return { mode: 'accounts', accountIds: [] };
  }
}
