import { buildAccountCredentials, parseCodexAuth, type AccountCredentials } from '../upstream/codex-auth.js';
import { listAccounts, type AccountRow } from './account-repo.js';
import type { CredentialCipher } from './cipher-port.js';
import type { Db } from './db.js';
import { listGroups } from './group-repo.js';
import { listKeys } from './key-repo.js';
import { isMasterKeyWrong, judgeMasterKey, readMasterKeyCheck } from './master-key-check.js';
import { listModelAliases } from './model-alias-repo.js';
import { readSettings } from './settings-repo.js';
import type { AccountRecord, KeyRecord, Snapshot } from './types.js';
import { hasQuota } from '../limits/key-budget.js';
import { loadPeriodUsage } from './usage-period-repo.js';

/** An account as the snapshot holds it: proxy opened, credentials opened (null when they cannot be). */
export type SnapshotAccount = AccountRecord & { credentials: AccountCredentials | null };

/**
 * Loads everything the hot path needs in seven queries (keys, accounts, groups, settings, model
 * aliases, budgeted keys' period usage, the master-key check) inside one read-only repeatable-read transaction, so the parts agree with each other.
 *
 * An account whose credentials or proxy cannot be opened (wrong master key, corrupted blob,
 * unparseable auth JSON) gets `credentials: null` and no proxy; the caller leaves it out of routing.
 * One bad row never fails the load. Whether the key is wrong for the whole database is judged
 * apart (`masterKeyMatches`, see judgeMasterKey), so one corrupted row never marks the process unready.
 */
export async function loadSnapshot(db: Db, cipher: CredentialCipher, now: () => number = Date.now): Promise<Snapshot> {
  // Taken before reading: every write that finished before this moment is in the snapshot.
  const loadedAt = now();
  const parts = await db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const keys = await listKeys(tx);
    const settings = await readSettings(tx);
    const budgeted = keys.filter(hasQuota);
    return {
      keys,
      accounts: await listAccounts(tx),
      groups: await listGroups(tx),
      settings,
      modelAliases: await listModelAliases(tx),
      periodUsage: await loadPeriodUsage(tx, budgeted, loadedAt, settings.budgetTimeZone),
      keyCheck: await readMasterKeyCheck(tx),
    };
  });
  return {
    keysByHash: indexKeysByHash(parts.keys, loadedAt),
    accounts: new Map(parts.accounts.map((row) => [row.id, openAccount(row, cipher)])),
    groups: new Map(parts.groups.map((group) => [group.id, group])),
    periodUsage: parts.periodUsage,
    settings: parts.settings,
    modelAliases: parts.modelAliases,
    loadedAt,
    masterKeyMatches: !isMasterKeyWrong(
      judgeMasterKey(
        parts.keyCheck,
        parts.accounts.map((a) => a.credentialsEnc),
        cipher,
      ),
    ),
  };
}

/** `lastError` shown for an account whose sealed values cannot be opened. */
export const UNREADABLE_CREDENTIALS = 'stored credentials cannot be opened (wrong master key or corrupted data)';

/** Opens one stored account; never throws. */
export function openAccount(row: AccountRow, cipher: CredentialCipher): SnapshotAccount {
  const { proxyUrlEnc, credentialsEnc, hasRefreshToken: _hasRefreshToken, ...record } = row;
  try {
    const proxyUrl = proxyUrlEnc ? cipher.decrypt(proxyUrlEnc, 'account-proxy').toString('utf8') : null;
    const credentials = buildAccountCredentials(parseCodexAuth(cipher.decrypt(credentialsEnc, 'account-credentials').toString('utf8')));
    return { ...record, proxyUrl, credentials };
  } catch {
    // Without its proxy an account must not be used at all (it would go out directly), so both go.
    return { ...record, lastError: record.lastError ?? UNREADABLE_CREDENTIALS, proxyUrl: null, credentials: null };
  }
}

/** Each key under its secret's hash, and under a rotated-out secret's hash while its grace period lasts. */
export function indexKeysByHash(keys: readonly KeyRecord[], at: number): Map<string, KeyRecord> {
  const byHash = new Map<string, KeyRecord>();
  for (const key of keys) {
    byHash.set(key.hash, key);
    if (key.previousSecret && key.previousSecret.expiresAt > at) byHash.set(key.previousSecret.hash, key);
  }
  return byHash;
}
