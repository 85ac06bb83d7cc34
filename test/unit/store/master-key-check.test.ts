import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCredentialCipher, fingerprintMasterKey } from '../../../src/control/credential-cipher.js';
import { describeMismatch } from '../../../src/control/master-key-gate.js';
import { isMasterKeyWrong, judgeMasterKey, opensMasterKeyCheck, sealMasterKeyCheck } from '../../../src/store/master-key-check.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const a = createCredentialCipher(keyA);
const b = createCredentialCipher(keyB);
const credsUnder = (cipher: typeof a) => cipher.encrypt('{"tokens":{}}', 'account-credentials');

describe('master key check', () => {
  it('the seal opens with its own key only, and is fresh each time', () => {
    const check = sealMasterKeyCheck(a, fingerprintMasterKey(keyA));
    expect(check.fingerprint).toBe(fingerprintMasterKey(keyA));
    expect(opensMasterKeyCheck(check, a)).toBe(true);
    expect(opensMasterKeyCheck(check, b)).toBe(false);
    expect(sealMasterKeyCheck(a, check.fingerprint).sealed.equals(check.sealed)).toBe(false);
    expect(opensMasterKeyCheck({ ...check, sealed: Buffer.from([1, 2, 3]) }, a)).toBe(false);
  });

  it('judges by the stored check when there is one, else by whether any account opens', () => {
    const check = sealMasterKeyCheck(a, fingerprintMasterKey(keyA));
    expect(judgeMasterKey(check, [credsUnder(b)], a)).toEqual({ kind: 'match' });
    expect(judgeMasterKey(check, [], b)).toEqual({ kind: 'mismatch', expected: fingerprintMasterKey(keyA) });
    expect(judgeMasterKey(null, [], b)).toEqual({ kind: 'unchecked', accountsUnopened: false });
    expect(judgeMasterKey(null, [credsUnder(a), credsUnder(a)], b)).toEqual({ kind: 'unchecked', accountsUnopened: true });
    // One corrupted row among good ones: the key is right.
    expect(judgeMasterKey(null, [Buffer.from([1]), credsUnder(a)], a)).toEqual({ kind: 'unchecked', accountsUnopened: false });
    expect(isMasterKeyWrong({ kind: 'match' })).toBe(false);
    expect(isMasterKeyWrong({ kind: 'unchecked', accountsUnopened: false })).toBe(false);
    expect(isMasterKeyWrong({ kind: 'unchecked', accountsUnopened: true })).toBe(true);
    expect(isMasterKeyWrong({ kind: 'mismatch', expected: 'x' })).toBe(true);
  });

  it('the refusal is one line naming expected and given fingerprints and every key source, never the key', () => {
    const given = { fingerprint: fingerprintMasterKey(keyB), source: 'CODEX_IMAGE_GATEWAY_MASTER_KEY' };
    const line = describeMismatch({ kind: 'mismatch', expected: fingerprintMasterKey(keyA) }, given)!;
    expect(line).not.toContain('\n');
    expect(line).toContain(`expected key ${fingerprintMasterKey(keyA)}`);
    expect(line).toContain(`given key ${fingerprintMasterKey(keyB)} (from CODEX_IMAGE_GATEWAY_MASTER_KEY)`);
    for (const source of ['CODEX_IMAGE_GATEWAY_MASTER_KEY_FILE', '--master-key-file', '<data-dir>/master.key']) expect(line).toContain(source);
    expect(line).not.toContain(keyB.toString('hex'));
    expect(describeMismatch({ kind: 'unchecked', accountsUnopened: true }, given)).toMatch(/no stored account credentials open/);
    expect(describeMismatch({ kind: 'match' }, given)).toBeNull();
  });
});
