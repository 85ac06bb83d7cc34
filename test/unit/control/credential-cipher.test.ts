import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config.js';
import {
  createCredentialCipher,
  CredentialDecryptError,
  decodeMasterKey,
  describeMasterKeySource,
  fingerprintMasterKey,
  MASTER_KEY_FILE,
  resolveConfiguredMasterKey,
  resolveMasterKey,
} from '../../../src/control/credential-cipher.js';

const key = randomBytes(32);
const cipher = createCredentialCipher(key);
const SECRET = '{"tokens":{"access_token":"eyJ-super-secret"}}';

describe('createCredentialCipher', () => {
  it('round-trips text and bytes', () => {
    expect(cipher.decrypt(cipher.encrypt(SECRET, 'account-credentials'), 'account-credentials').toString('utf8')).toBe(SECRET);
    const bytes = randomBytes(100);
    expect(cipher.decrypt(cipher.encrypt(bytes, 'account-proxy'), 'account-proxy')).toEqual(bytes);
    expect(cipher.decrypt(cipher.encrypt('', 'account-proxy'), 'account-proxy').length).toBe(0);
  });

  it('writes a versioned envelope with a fresh IV each time, never the plaintext', () => {
    const a = cipher.encrypt(SECRET, 'account-credentials');
    const b = cipher.encrypt(SECRET, 'account-credentials');
    expect(a[0]).toBe(1);
    expect(a.length).toBe(1 + 12 + 16 + Buffer.byteLength(SECRET));
    expect(a.subarray(1, 13).equals(b.subarray(1, 13))).toBe(false);
    expect(a.toString('latin1')).not.toContain('super-secret');
  });

  it('detects tampering anywhere in the envelope', () => {
    const sealed = cipher.encrypt(SECRET, 'account-credentials');
    for (const index of [1, 12, 13, 28, 29, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      expect(() => cipher.decrypt(tampered, 'account-credentials'), `byte ${index}`).toThrow(CredentialDecryptError);
    }
  });

  it.each([
    ['truncated', (b: Buffer) => b.subarray(0, 20), /truncated/],
    ['unknown version', (b: Buffer) => Buffer.concat([Buffer.from([2]), b.subarray(1)]), /unknown version 2/],
    ['empty', () => Buffer.alloc(0), /truncated/],
  ])('rejects a %s envelope', (_label, mangle, message) => {
    expect(() => cipher.decrypt(mangle(cipher.encrypt(SECRET, 'account-proxy')), 'account-proxy')).toThrow(message);
  });

  it('refuses a blob sealed for another purpose (a proxy cannot stand in for credentials)', () => {
    const proxy = cipher.encrypt('http://u:p@127.0.0.1:8080', 'account-proxy');
    expect(() => cipher.decrypt(proxy, 'account-credentials')).toThrow(CredentialDecryptError);
  });

  it('refuses a blob sealed under another key, without naming either key', () => {
    const other = createCredentialCipher(randomBytes(32));
    const sealed = cipher.encrypt(SECRET, 'account-credentials');
    let message = '';
    try {
      other.decrypt(sealed, 'account-credentials');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/wrong master key/);
    expect(message).not.toContain(key.toString('hex'));
  });

  it.each([16, 31, 33, 0])('rejects a %i-byte master key', (length) => {
    expect(() => createCredentialCipher(randomBytes(length))).toThrow(ConfigError);
  });

  it('keeps its own copy of the key', () => {
    const mutable = Buffer.from(key);
    const own = createCredentialCipher(mutable);
    const sealed = own.encrypt('x', 'account-proxy');
    mutable.fill(0);
    expect(own.decrypt(sealed, 'account-proxy').toString()).toBe('x');
  });
});

describe('decodeMasterKey', () => {
  it.each([
    ['64 hex', key.toString('hex')],
    ['64 upper-case hex with a newline', `${key.toString('hex').toUpperCase()}\n`],
    ['base64', key.toString('base64')],
    ['base64url', key.toString('base64url')],
  ])('accepts %s', (_label, text) => {
    expect(decodeMasterKey(text)).toEqual(key);
  });

  it.each([
    ['63 hex', key.toString('hex').slice(1)],
    ['65 hex', `${key.toString('hex')}0`],
    ['base64 of 31 bytes', randomBytes(31).toString('base64')],
    ['base64 of 33 bytes', randomBytes(33).toString('base64')],
    ['a passphrase', 'correct horse battery staple'],
    ['empty', ''],
  ])('rejects %s', (_label, text) => {
    expect(decodeMasterKey(text)).toBeNull();
  });
});

describe('resolveMasterKey', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cig-key-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('prefers the environment value', async () => {
    expect(await resolveMasterKey({ masterKey: key.toString('hex'), dataDir: dir })).toEqual(key);
  });

  it('rejects a malformed environment value without echoing it', async () => {
    const err = await resolveMasterKey({ masterKey: 'my-secret-passphrase' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('CODEX_IMAGE_GATEWAY_MASTER_KEY must be 64 hex characters');
    expect((err as Error).message).not.toContain('my-secret-passphrase');
  });

  it('creates <dataDir>/master.key with mode 0600 on first use and reads the same key later', async () => {
    const first = await resolveMasterKey({ dataDir: dir });
    const file = join(dir, MASTER_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.toString('hex'));
    expect(await resolveMasterKey({ dataDir: dir })).toEqual(first);
  });

  it('uses an explicit key file over the data directory, creating parent folders', async () => {
    const file = join(dir, 'keys', 'gateway.key');
    const created = await resolveMasterKey({ masterKeyFile: file, dataDir: join(dir, 'unused') });
    expect(await resolveMasterKey({ masterKeyFile: file })).toEqual(created);
  });

  it('reads a key file holding 32 raw bytes or base64', async () => {
    writeFileSync(join(dir, 'raw.key'), key);
    writeFileSync(join(dir, 'b64.key'), key.toString('base64'));
    expect(await resolveMasterKey({ masterKeyFile: join(dir, 'raw.key') })).toEqual(key);
    expect(await resolveMasterKey({ masterKeyFile: join(dir, 'b64.key') })).toEqual(key);
  });

  it('rejects a key file with anything else in it', async () => {
    writeFileSync(join(dir, 'bad.key'), 'short');
    await expect(resolveMasterKey({ masterKeyFile: join(dir, 'bad.key') })).rejects.toThrow(/must hold 64 hex characters/);
  });

  it('says what to set when there is nowhere to find a key', async () => {
    await expect(resolveMasterKey({})).rejects.toThrow(/set CODEX_IMAGE_GATEWAY_MASTER_KEY, --master-key-file or a data directory/);
  });
});

describe('resolveConfiguredMasterKey (which key a process may use, and who may create one)', () => {
  const base = { masterKey: null, masterKeyFile: null, databaseUrl: null } as const;

  it('embedded: the data directory key, created by a writer, refused to a reader when missing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cig-mk-'));
    await expect(resolveConfiguredMasterKey({ ...base, dataDir }, false)).rejects.toThrow(/does not exist/);
    const created = await resolveConfiguredMasterKey({ ...base, dataDir }, true);
    expect(await resolveConfiguredMasterKey({ ...base, dataDir }, false)).toEqual(created);
  });

  it('Postgres: never falls back to a data directory key, even one that exists', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cig-mk-'));
    await resolveConfiguredMasterKey({ ...base, dataDir }, true);
    const pg = { ...base, dataDir, databaseUrl: 'postgres://db/x' };
    await expect(resolveConfiguredMasterKey(pg, true)).rejects.toThrow(/must be named explicitly/);
    const key = randomBytes(32);
    expect(await resolveConfiguredMasterKey({ ...pg, masterKey: key.toString('hex') }, false)).toEqual(key);
  });

  it('a reader given a key file that does not exist refuses instead of creating one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cig-mk-'));
    const file = join(dir, 'nope.key');
    await expect(resolveConfiguredMasterKey({ ...base, dataDir: dir, databaseUrl: 'postgres://db/x', masterKeyFile: file }, false)).rejects.toThrow(
      /does not exist/,
    );
    expect(existsSync(file)).toBe(false);
    await resolveConfiguredMasterKey({ ...base, dataDir: dir, databaseUrl: 'postgres://db/x', masterKeyFile: file }, true);
    expect(existsSync(file)).toBe(true);
  });
});

describe('fingerprintMasterKey', () => {
  it('is the first 16 hex of SHA-256("cig-key-fingerprint:" + key): stable, distinct per key, never the key', async () => {
    const { createHash } = await import('node:crypto');
    const fixed = Buffer.alloc(32, 7);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from('cig-key-fingerprint:'), fixed]))
      .digest('hex')
      .slice(0, 16);
    expect(fingerprintMasterKey(fixed)).toBe(expected);
    expect(fingerprintMasterKey(Buffer.from(fixed))).toBe(expected);
    expect(fingerprintMasterKey(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprintMasterKey(key)).not.toBe(fingerprintMasterKey(randomBytes(32)));
    expect(key.toString('hex')).not.toContain(fingerprintMasterKey(key));
    // Not the plain hash of the key: the domain prefix keeps it from matching any other use of a SHA-256.
    expect(fingerprintMasterKey(key)).not.toBe(createHash('sha256').update(key).digest('hex').slice(0, 16));
  });

  it('names the source by the resolution rule: variable, explicit file, data-directory file', () => {
    const base = { masterKey: null, masterKeyFile: null, dataDir: '/d', databaseUrl: null };
    expect(describeMasterKeySource({ ...base, masterKey: 'x' })).toBe('CODEX_IMAGE_GATEWAY_MASTER_KEY');
    expect(describeMasterKeySource({ ...base, masterKeyFile: '/k' })).toBe('/k');
    expect(describeMasterKeySource(base)).toBe(join('/d', MASTER_KEY_FILE));
  });

  it('a master-key-check seal opens only for its purpose and key', () => {
    const sealed = cipher.encrypt('check', 'master-key-check');
    expect(cipher.decrypt(sealed, 'master-key-check').toString()).toBe('check');
    expect(() => cipher.decrypt(sealed, 'account-credentials')).toThrow(CredentialDecryptError);
    expect(() => createCredentialCipher(randomBytes(32)).decrypt(sealed, 'master-key-check')).toThrow(CredentialDecryptError);
  });
});
