import { ConfigError } from '../config/config.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db } from '../store/db.js';
import { insertMasterKeyCheck, readMasterKeyVerdict, sealMasterKeyCheck, type MasterKeyVerdict } from '../store/master-key-check.js';
import { createCredentialCipher, describeMasterKeySource, fingerprintMasterKey, MASTER_KEY_SOURCES, resolveConfiguredMasterKey } from './credential-cipher.js';

/** The key a process runs with, as the check needs it: the cipher, its fingerprint and where it came from. */
export interface MasterKeyInUse {
  cipher: CredentialCipher;
  /** fingerprintMasterKey(key). */
  fingerprint: string;
  /** describeMasterKeySource(config): the variable or the file. */
  source: string;
}

/** Resolves the process's key (resolveConfiguredMasterKey) with its fingerprint and source, for verifyMasterKey. */
export async function resolveMasterKeyInUse(config: Parameters<typeof resolveConfiguredMasterKey>[0], mayCreate: boolean): Promise<MasterKeyInUse> {
  const key = await resolveConfiguredMasterKey(config, mayCreate);
  return { cipher: createCredentialCipher(key), fingerprint: fingerprintMasterKey(key), source: describeMasterKeySource(config) };
}

/** Master key does not match the database: the process refuses to start (exit 1). */
export class MasterKeyMismatchError extends ConfigError {
  override name = 'MasterKeyMismatchError';
}

/**
 * Refuses a master key that cannot open this database's credentials, at process start (also with
 * zero accounts, once the check is stored). A `writer` (start, control, the embedded CLI) stores the
 * check when there is none yet and the key is not refuted by the accounts; a reader (serve, the CLI
 * on Postgres) only verifies. A concurrent writer with another key loses the insert and is refused.
 * @throws MasterKeyMismatchError with one line naming the expected and given fingerprints and where keys come from.
 */
export async function verifyMasterKey(db: Db, key: MasterKeyInUse, opts: { writer: boolean; now?: () => number }): Promise<void> {
  let verdict = await readMasterKeyVerdict(db, key.cipher);
  if (verdict.kind === 'unchecked' && !verdict.accountsUnopened && opts.writer) {
    await insertMasterKeyCheck(db, sealMasterKeyCheck(key.cipher, key.fingerprint), (opts.now ?? Date.now)());
    verdict = await readMasterKeyVerdict(db, key.cipher);
  }
  const message = describeMismatch(verdict, key);
  if (message) throw new MasterKeyMismatchError(message);
}

/** The one-line refusal for a wrong key, or null when the verdict lets the key through. */
export function describeMismatch(verdict: MasterKeyVerdict, key: Pick<MasterKeyInUse, 'fingerprint' | 'source'>): string | null {
  const given = `given key ${key.fingerprint} (from ${key.source})`;
  if (verdict.kind === 'mismatch') {
    return `master key does not match this database: expected key ${verdict.expected}, ${given}; keys come from ${MASTER_KEY_SOURCES}`;
  }
  if (verdict.kind === 'unchecked' && verdict.accountsUnopened) {
    return `master key does not match this database: no stored account credentials open with it (the database predates the key check, so the expected key's fingerprint is unknown), ${given}; keys come from ${MASTER_KEY_SOURCES}`;
  }
  return null;
}
