import type { DbQuerier, DbTx } from './db.js';
import type { AccountRecord } from './types.js';

/** An account as stored: the record's fields, with the proxy URL and credentials still sealed. */
export interface AccountRow extends Omit<AccountRecord, 'proxyUrl'> {
  /** Sealed proxy URL (purpose `account-proxy`); null = direct connection. */
  proxyUrlEnc: Buffer | null;
  /** Sealed auth JSON (purpose `account-credentials`). */
  credentialsEnc: Buffer;
  /** Whether the sealed auth JSON holds a refresh token (so views need not open it). */
  hasRefreshToken: boolean;
}

/** The credential fields a token refresh or a re-import rewrites (settings stay as they are). */
export interface AccountCredentialUpdate {
  credentialsEnc: Buffer;
  hasRefreshToken: boolean;
  chatgptAccountId: string | null;
  email: string | null;
  planType: string | null;
  accessTokenExpiresAt: number | null;
  lastRefreshAt: number | null;
  lastError: string | null;
  /** False after a re-import or a successful refresh; true after a permanent refresh failure. */
  needsReimport: boolean;
  updatedAt: number;
}

const ACCOUNT_SELECT = `
  SELECT id, name, status, image_enabled AS "imageEnabled", image_concurrency AS "imageConcurrency",
         proxy_url_enc AS "proxyUrlEnc", credentials_enc AS "credentialsEnc", has_refresh_token AS "hasRefreshToken",
         plan_type AS "planType", email, chatgpt_account_id AS "chatgptAccountId",
         access_token_expires_at AS "accessTokenExpiresAt", last_refresh_at AS "lastRefreshAt",
         last_error AS "lastError", needs_reimport AS "needsReimport", created_at AS "createdAt", updated_at AS "updatedAt"
    FROM accounts`;

/** Every account, ordered by name. */
export function listAccounts(db: DbQuerier): Promise<AccountRow[]> {
  return db.query<AccountRow>(`${ACCOUNT_SELECT} ORDER BY name`);
}

/** The account whose id or else name is `ref`, or null. */
export async function findAccount(db: DbQuerier, ref: string): Promise<AccountRow | null> {
  const [row] = await db.query<AccountRow>(`${ACCOUNT_SELECT} WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`, [ref]);
  return row ?? null;
}

/**
 * The account holding the same ChatGPT identity: same ChatGPT account id and same email (a team
 * workspace shares one account id among its members, so the id alone would merge different people).
 */
export async function findAccountByIdentity(db: DbQuerier, chatgptAccountId: string, email: string | null): Promise<AccountRow | null> {
  const [row] = await db.query<AccountRow>(`${ACCOUNT_SELECT} WHERE chatgpt_account_id = $1 AND email IS NOT DISTINCT FROM $2 ORDER BY created_at LIMIT 1`, [
    chatgptAccountId,
    email,
  ]);
  return row ?? null;
}

/** Inserts a new account. */
export async function insertAccount(tx: DbTx, row: AccountRow): Promise<void> {
  await tx.query(
    `INSERT INTO accounts (id, name, status, image_enabled, image_concurrency, proxy_url_enc, credentials_enc,
                           has_refresh_token, chatgpt_account_id, email, plan_type, access_token_expires_at,
                           last_refresh_at, last_error, needs_reimport, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    [
      row.id,
      row.name,
      row.status,
      row.imageEnabled,
      row.imageConcurrency,
      row.proxyUrlEnc,
      row.credentialsEnc,
      row.hasRefreshToken,
      row.chatgptAccountId,
      row.email,
      row.planType,
      row.accessTokenExpiresAt,
      row.lastRefreshAt,
      row.lastError,
      row.needsReimport,
      row.createdAt,
      row.updatedAt,
    ],
  );
}

/** Writes an account's operator settings (name, status, image switch and limit, proxy). */
export async function updateAccountSettings(tx: DbTx, row: AccountRow): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE accounts SET name = $2, status = $3, image_enabled = $4, image_concurrency = $5, proxy_url_enc = $6,
                         updated_at = $7
      WHERE id = $1 RETURNING id`,
    [row.id, row.name, row.status, row.imageEnabled, row.imageConcurrency, row.proxyUrlEnc, row.updatedAt],
  );
  return rows.length > 0;
}

/** Replaces an account's sealed credentials and what was read from them (token refresh, re-import). */
export async function saveAccountCredentials(tx: DbTx, id: string, update: AccountCredentialUpdate): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE accounts SET credentials_enc = $2, has_refresh_token = $3, chatgpt_account_id = $4, email = $5,
                         plan_type = $6, access_token_expires_at = $7, last_refresh_at = $8, last_error = $9,
                         updated_at = $10, needs_reimport = $11
      WHERE id = $1 RETURNING id`,
    [
      id,
      update.credentialsEnc,
      update.hasRefreshToken,
      update.chatgptAccountId,
      update.email,
      update.planType,
      update.accessTokenExpiresAt,
      update.lastRefreshAt,
      update.lastError,
      update.updatedAt,
      update.needsReimport,
    ],
  );
  return rows.length > 0;
}

/** Records (or clears, with null) the last credential problem of an account, e.g. a failed refresh. */
export async function saveAccountError(tx: DbTx, id: string, lastError: string | null, updatedAt: number): Promise<boolean> {
  const rows = await tx.query<{ id: string }>('UPDATE accounts SET last_error = $2, updated_at = $3 WHERE id = $1 RETURNING id', [id, lastError, updatedAt]);
  return rows.length > 0;
}

/**
 * Marks an account as needing a new import (a permanent refresh failure), with the reason as its
 * last error. The account leaves routing until an import clears the flag.
 */
export async function markAccountNeedsReimport(tx: DbTx, id: string, lastError: string, updatedAt: number): Promise<boolean> {
  const rows = await tx.query<{ id: string }>('UPDATE accounts SET needs_reimport = TRUE, last_error = $2, updated_at = $3 WHERE id = $1 RETURNING id', [
    id,
    lastError,
    updatedAt,
  ]);
  return rows.length > 0;
}

/** What lockAccountForRefresh found: someone else holds the lock, or the row as it is now (null = gone). */
export type RefreshLock = { locked: false } | { locked: true; row: AccountRow | null };

/**
 * Locks one account for a token refresh, across processes: a transaction-scoped advisory lock keyed
 * by the account id (released at COMMIT/ROLLBACK; never waits), then re-reads the row, so a refresh
 * that committed meanwhile is seen. `locked: false` when another transaction is refreshing it.
 */
export async function lockAccountForRefresh(tx: DbTx, id: string): Promise<RefreshLock> {
  const [lock] = await tx.query<{ locked: boolean }>(`SELECT pg_try_advisory_xact_lock(${REFRESH_LOCK_SPACE}, hashtext($1)) AS locked`, [id]);
  if (!lock?.locked) return { locked: false };
  const [row] = await tx.query<AccountRow>(`${ACCOUNT_SELECT} WHERE id = $1`, [id]);
  return { locked: true, row: row ?? null };
}

/** First key of the two-key advisory lock a refresh takes (ASCII "cigr"); the second is hashtext(account id). */
const REFRESH_LOCK_SPACE = 0x63696772;

/** Deletes an account; it leaves every group and key account list. False when there was none. */
export async function deleteAccount(tx: DbTx, id: string): Promise<boolean> {
  const rows = await tx.query<{ id: string }>('DELETE FROM accounts WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

/** Id and name of every account (for showing references by name). */
export function listAccountNames(db: DbQuerier): Promise<Array<{ id: string; name: string }>> {
  return db.query<{ id: string; name: string }>('SELECT id, name FROM accounts ORDER BY name');
}
