import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError } from '../config/config.js';
import type { CipherPurpose, CredentialCipher } from '../store/cipher-port.js';

export type { CipherPurpose, CredentialCipher } from '../store/cipher-port.js';

/** Envelope layout: 1 byte version | 12-byte IV | 16-byte GCM tag | ciphertext. */
const ENVELOPE = { version: 1, ivBytes: 12, tagBytes: 16 } as const;
const KEY_BYTES = 32;
/** Associated data per purpose (authenticated, not stored): a proxy blob cannot be opened as credentials. */
const ASSOCIATED_DATA = {
  'account-credentials': 'codex-image-gateway/account-credentials',
  'account-proxy': 'codex-image-gateway/account-proxy',
  'master-key-check': 'codex-image-gateway/master-key-check',
} as const satisfies Record<CipherPurpose, string>;

/** File name of the generated master key inside the data directory. */
export const MASTER_KEY_FILE = 'master.key';

/** Domain prefix of the key fingerprint, so the hash is of no use for anything else. */
const FINGERPRINT_DOMAIN = 'cig-key-fingerprint:';

/**
 * A short, non-reversible id of a master key: the first 16 hex characters of
 * SHA-256("cig-key-fingerprint:" + key). Safe to print and store; it names a key, it does not reveal it.
 */
export function fingerprintMasterKey(masterKey: Buffer): string {
  return createHash('sha256').update(FINGERPRINT_DOMAIN).update(masterKey).digest('hex').slice(0, 16);
}

/** Where keys come from, for messages that must say how to supply the right one. */
export const MASTER_KEY_SOURCES = `CODEX_IMAGE_GATEWAY_MASTER_KEY, CODEX_IMAGE_GATEWAY_MASTER_KEY_FILE / --master-key-file, or <data-dir>/${MASTER_KEY_FILE}`;

/** Names where this process's key came from (the variable or the file), by the same rule as resolveConfiguredMasterKey. */
export function describeMasterKeySource(config: {
  masterKey: string | null;
  masterKeyFile: string | null;
  dataDir: string;
  databaseUrl: string | null;
}): string {
  if (config.masterKey) return 'CODEX_IMAGE_GATEWAY_MASTER_KEY';
  if (config.masterKeyFile) return config.masterKeyFile;
  return join(config.dataDir, MASTER_KEY_FILE);
}

/** A sealed value that cannot be opened: tampered with, truncated, another purpose or another key. */
export class CredentialDecryptError extends Error {
  override name = 'CredentialDecryptError';
}

/**
 * Creates the AES-256-GCM cipher for values at rest. `masterKey` must be 32 bytes; it is copied, and
 * never appears in an error message.
 */
export function createCredentialCipher(masterKey: Buffer): CredentialCipher {
  if (masterKey.length !== KEY_BYTES) throw new ConfigError(`master key must be ${KEY_BYTES} bytes`);
  const key = Buffer.from(masterKey);
  return {
    encrypt(plain, purpose) {
      const iv = randomBytes(ENVELOPE.ivBytes);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: ENVELOPE.tagBytes });
      cipher.setAAD(Buffer.from(ASSOCIATED_DATA[purpose]));
      const body = Buffer.concat([cipher.update(typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain), cipher.final()]);
      return Buffer.concat([Buffer.from([ENVELOPE.version]), iv, cipher.getAuthTag(), body]);
    },
    decrypt(blob, purpose) {
      const headerBytes = 1 + ENVELOPE.ivBytes + ENVELOPE.tagBytes;
      if (blob.length < headerBytes) throw new CredentialDecryptError('sealed value is truncated');
      if (blob[0] !== ENVELOPE.version) throw new CredentialDecryptError(`sealed value has unknown version ${blob[0]}`);
      const iv = blob.subarray(1, 1 + ENVELOPE.ivBytes);
      const tag = blob.subarray(1 + ENVELOPE.ivBytes, headerBytes);
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: ENVELOPE.tagBytes });
      decipher.setAAD(Buffer.from(ASSOCIATED_DATA[purpose]));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(blob.subarray(headerBytes)), decipher.final()]);
      } catch {
        throw new CredentialDecryptError('sealed value failed authentication (wrong master key, wrong purpose or tampered data)');
      }
    },
    deriveKey(label) {
      return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `cig-derived-key:${label}`, KEY_BYTES));
    },
  };
}

/** Where the master key comes from (CONFIG_FIELDS.masterKey / masterKeyFile / dataDir). */
export interface MasterKeySource {
  /** CODEX_IMAGE_GATEWAY_MASTER_KEY: 64 hex characters, or base64 of 32 bytes. */
  masterKey?: string | null;
  /** File holding the key; created (32 random bytes, mode 0600) if missing, unless `mustExist`. */
  masterKeyFile?: string | null;
  /** Fallback file location: `<dataDir>/master.key`. */
  dataDir?: string | null;
  /** Refuse to create a missing file: for processes that only read credentials others sealed. */
  mustExist?: boolean;
}

/**
 * Finds the master key: the environment value if set, else the key file (explicit, or
 * `<dataDir>/master.key`), which is created with 32 random bytes (written as hex, mode 0600) when missing.
 * @throws ConfigError naming the variable or file at fault (never the key).
 */
export async function resolveMasterKey(source: MasterKeySource): Promise<Buffer> {
  if (source.masterKey) {
    const key = decodeMasterKey(source.masterKey);
    if (!key) throw new ConfigError('CODEX_IMAGE_GATEWAY_MASTER_KEY must be 64 hex characters or the base64 of 32 bytes');
    return key;
  }
  const file = source.masterKeyFile || (source.dataDir ? join(source.dataDir, MASTER_KEY_FILE) : null);
  if (!file) throw new ConfigError('no master key: set CODEX_IMAGE_GATEWAY_MASTER_KEY, --master-key-file or a data directory');
  const existing = await readFile(file).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw new ConfigError(`cannot read master key file ${file}: ${(err as Error).message}`);
  });
  if (existing) {
    const key = decodeMasterKey(existing.toString('utf8')) ?? (existing.length === KEY_BYTES ? existing : null);
    if (!key) throw new ConfigError(`master key file ${file} must hold 64 hex characters, the base64 of 32 bytes, or 32 raw bytes`);
    return key;
  }
  if (source.mustExist) {
    throw new ConfigError(
      `master key file ${file} does not exist: point --master-key-file at the key the control plane uses (a new key could not open stored credentials)`,
    );
  }
  return createMasterKeyFile(file);
}

/**
 * The master key for a process, by the deployment rule: embedded (no DATABASE_URL), the data
 * directory's key file is the default; on Postgres the key must be named explicitly
 * (CODEX_IMAGE_GATEWAY_MASTER_KEY or --master-key-file), because every process sharing the database
 * must use the same key and a data directory's file may belong to an unrelated instance.
 * `mayCreate`: whether this process may create a missing key file (writers: start, control, the
 * embedded CLI); readers (serve, the CLI on Postgres) never invent a key.
 */
export async function resolveConfiguredMasterKey(
  config: { masterKey: string | null; masterKeyFile: string | null; dataDir: string; databaseUrl: string | null },
  mayCreate: boolean,
): Promise<Buffer> {
  if (!config.masterKey && !config.masterKeyFile && config.databaseUrl !== null) {
    throw new ConfigError(
      'with DATABASE_URL the master key must be named explicitly: set CODEX_IMAGE_GATEWAY_MASTER_KEY or --master-key-file (the same key for every process)',
    );
  }
  return resolveMasterKey({
    masterKey: config.masterKey,
    masterKeyFile: config.masterKeyFile,
    dataDir: config.databaseUrl === null ? config.dataDir : null,
    mustExist: !mayCreate,
  });
}

async function createMasterKeyFile(file: string): Promise<Buffer> {
  const key = randomBytes(KEY_BYTES);
  await mkdir(dirname(file), { recursive: true });
  try {
    await writeFile(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as { code?: unknown }).code === 'EEXIST') return resolveMasterKey({ masterKeyFile: file });
    throw new ConfigError(`cannot create master key file ${file}: ${(err as Error).message}`);
  }
}

/** Parses a key written as 64 hex characters or base64/base64url of exactly 32 bytes; null otherwise. */
export function decodeMasterKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) return null;
  const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === KEY_BYTES ? bytes : null;
}
