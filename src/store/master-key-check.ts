import type { CredentialCipher } from './cipher-port.js';
import type { DbQuerier } from './db.js';

/**
 * The master-key check (table `master_key_check`, migration 0006): a fixed text sealed under the
 * master key, stored once, so any process can tell at start whether its key is the one that sealed
 * this database's credentials, even before any account exists.
 */

/** The text sealed (purpose `master-key-check`); only its successful opening matters, never its secrecy. */
export const KEY_CHECK_PLAINTEXT = 'codex-image-gateway master key check v1';

/** The stored check: the sealed text and the fingerprint of the key that sealed it. */
export interface MasterKeyCheck {
  fingerprint: string;
  sealed: Buffer;
}

/**
 * What a key makes of this database:
 * - `match`: the stored check opens with it;
 * - `mismatch`: the stored check was sealed under another key (`expected` is that key's fingerprint);
 * - `unchecked`: no check stored yet (a fresh database, or one created before 0006); `accountsUnopened`
 *   is true when accounts exist and not one of their credentials opens with this key (the key is wrong).
 */
export type MasterKeyVerdict = { kind: 'match' } | { kind: 'mismatch'; expected: string } | { kind: 'unchecked'; accountsUnopened: boolean };

/** Reads the stored check, or null when none has been written yet. */
export async function readMasterKeyCheck(db: DbQuerier): Promise<MasterKeyCheck | null> {
  const rows = await db.query<MasterKeyCheck>('SELECT fingerprint, sealed FROM master_key_check WHERE id = 1');
  return rows[0] ?? null;
}

/** Stores the check unless one exists (the first writer wins; callers re-read and judge again). */
export async function insertMasterKeyCheck(db: DbQuerier, check: MasterKeyCheck, createdAt: number): Promise<void> {
  await db.query('INSERT INTO master_key_check (id, fingerprint, sealed, created_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING', [
    check.fingerprint,
    check.sealed,
    createdAt,
  ]);
}

/** Seals the check text under `cipher`'s key, labelled with that key's fingerprint. */
export function sealMasterKeyCheck(cipher: CredentialCipher, fingerprint: string): MasterKeyCheck {
  return { fingerprint, sealed: cipher.encrypt(KEY_CHECK_PLAINTEXT, 'master-key-check') };
}

/** True when `check` was sealed under `cipher`'s key. */
export function opensMasterKeyCheck(check: MasterKeyCheck, cipher: CredentialCipher): boolean {
  try {
    return cipher.decrypt(check.sealed, 'master-key-check').toString('utf8') === KEY_CHECK_PLAINTEXT;
  } catch {
    return false;
  }
}

/**
 * Judges a key against the stored check, or, when there is none, against the accounts' sealed
 * credentials: one that opens proves the key (GCM authenticates it); a corrupted row among good
 * ones does not make the key wrong. Pure apart from the cipher.
 */
export function judgeMasterKey(check: MasterKeyCheck | null, sealedCredentials: readonly Buffer[], cipher: CredentialCipher): MasterKeyVerdict {
  if (check) return opensMasterKeyCheck(check, cipher) ? { kind: 'match' } : { kind: 'mismatch', expected: check.fingerprint };
  const opens = (sealed: Buffer): boolean => {
    try {
      cipher.decrypt(sealed, 'account-credentials');
      return true;
    } catch {
      return false;
    }
  };
  return { kind: 'unchecked', accountsUnopened: sealedCredentials.length > 0 && !sealedCredentials.some(opens) };
}

/** Reads the check and the accounts' sealed credentials and judges `cipher`'s key (see judgeMasterKey). */
export async function readMasterKeyVerdict(db: DbQuerier, cipher: CredentialCipher): Promise<MasterKeyVerdict> {
  const check = await readMasterKeyCheck(db);
  if (check) return judgeMasterKey(check, [], cipher);
  const rows = await db.query<{ credentialsEnc: Buffer }>('SELECT credentials_enc AS "credentialsEnc" FROM accounts');
  return judgeMasterKey(
    null,
    rows.map((r) => r.credentialsEnc),
    cipher,
  );
}

/** Whether a verdict means the key cannot open this database's credentials. */
export const isMasterKeyWrong = (verdict: MasterKeyVerdict): boolean =>
  verdict.kind === 'mismatch' || (verdict.kind === 'unchecked' && verdict.accountsUnopened);
