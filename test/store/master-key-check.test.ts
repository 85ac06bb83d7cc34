import { randomBytes } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { createControlServices } from '../../src/control/control-services.js';
import { createCredentialCipher, fingerprintMasterKey } from '../../src/control/credential-cipher.js';
import { MasterKeyMismatchError, verifyMasterKey, type MasterKeyInUse } from '../../src/control/master-key-gate.js';
import { readMasterKeyCheck } from '../../src/store/master-key-check.js';
import { migrate } from '../../src/store/migrator.js';
import { loadSnapshot } from '../../src/store/snapshot-loader.js';
import { describeEachBackend } from '../support/databases.js';
import { makeCodexAuthJson } from '../support/jwt.js';

const keyInUse = (key: Buffer): MasterKeyInUse => ({
  cipher: createCredentialCipher(key),
  fingerprint: fingerprintMasterKey(key),
  source: 'CODEX_IMAGE_GATEWAY_MASTER_KEY',
});
const keyA = randomBytes(32);
const keyB = randomBytes(32);

describeEachBackend('master key check', ({ database }) => {
  beforeAll(async () => {
    await database().reset();
    await migrate(database().db);
  });

  it('a reader with zero accounts neither writes nor refuses; the first writer stores its fingerprint', async () => {
    const db = database().db;
    await verifyMasterKey(db, keyInUse(keyB), { writer: false });
    expect(await readMasterKeyCheck(db)).toBeNull();
    await verifyMasterKey(db, keyInUse(keyA), { writer: true, now: () => 5 });
    expect((await readMasterKeyCheck(db))?.fingerprint).toBe(fingerprintMasterKey(keyA));
  });

  it('with the check stored, another key is refused by readers and writers alike, zero accounts or not', async () => {
    const db = database().db;
    for (const writer of [false, true]) {
      const err = await verifyMasterKey(db, keyInUse(keyB), { writer }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MasterKeyMismatchError);
      expect((err as Error).message).toContain(`expected key ${fingerprintMasterKey(keyA)}`);
      expect((err as Error).message).toContain(`given key ${fingerprintMasterKey(keyB)}`);
    }
    await verifyMasterKey(db, keyInUse(keyA), { writer: false });
    expect((await readMasterKeyCheck(db))?.fingerprint).toBe(fingerprintMasterKey(keyA));
  });

  it('a database without a check but with accounts under A refuses B, accepts A and then stores the check', async () => {
    const db = database().db;
    const control = createControlServices({ db, cipher: createCredentialCipher(keyA) });
    await control.accounts.import({ auth: makeCodexAuthJson({ accountId: 'old-1' }), name: 'old-1' });
    await db.query('DELETE FROM master_key_check');

    const refused = await verifyMasterKey(db, keyInUse(keyB), { writer: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MasterKeyMismatchError);
    expect((refused as Error).message).toMatch(/no stored account credentials open with it/);
    expect(await readMasterKeyCheck(db)).toBeNull();

    await verifyMasterKey(db, keyInUse(keyA), { writer: true });
    expect((await readMasterKeyCheck(db))?.fingerprint).toBe(fingerprintMasterKey(keyA));
  });

  it('the snapshot says whether the key matches; one corrupted account does not make it wrong', async () => {
    const db = database().db;
    expect((await loadSnapshot(db, createCredentialCipher(keyA))).masterKeyMatches).toBe(true);
    expect((await loadSnapshot(db, createCredentialCipher(keyB))).masterKeyMatches).toBe(false);

    const control = createControlServices({ db, cipher: createCredentialCipher(keyA) });
    await control.accounts.import({ auth: makeCodexAuthJson({ accountId: 'bad-1' }), name: 'bad-1' });
    await db.query("UPDATE accounts SET credentials_enc = '\\x0100'::bytea WHERE name = 'bad-1'");
    const mixed = await loadSnapshot(db, createCredentialCipher(keyA));
    expect(mixed.masterKeyMatches).toBe(true);
    expect([...mixed.accounts.values()].filter((a) => a.credentials === null).map((a) => a.name)).toEqual(['bad-1']);

    await db.query('DELETE FROM master_key_check');
    expect((await loadSnapshot(db, createCredentialCipher(keyA))).masterKeyMatches).toBe(true);
    expect((await loadSnapshot(db, createCredentialCipher(keyB))).masterKeyMatches).toBe(false);
  });
});
