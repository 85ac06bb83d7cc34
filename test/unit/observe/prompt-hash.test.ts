import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCredentialCipher } from '../../../src/control/credential-cipher.js';
import { createPromptHasher } from '../../../src/observe/prompt-hash.js';

const KEY = Buffer.alloc(32, 1);

describe('createPromptHasher', () => {
  it.each(['abc', '', 'é'])('is the lowercase hex HMAC-SHA256 of %j (UTF-8) under the key', (prompt) => {
    expect(createPromptHasher(KEY)(prompt)).toBe(createHmac('sha256', KEY).update(Buffer.from(prompt, 'utf8')).digest('hex'));
  });

  it('is not the plain SHA-256 a log reader could recompute for a guessed prompt', () => {
    // sha256("abc")
    expect(createPromptHasher(KEY)('abc')).not.toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('depends on the installation key, is stable for it, and never contains the prompt', () => {
    const hash = createPromptHasher(KEY);
    expect(hash('a secret scene')).toMatch(/^[0-9a-f]{64}$/);
    expect(hash('a secret scene')).toBe(createPromptHasher(Buffer.from(KEY))('a secret scene'));
    expect(hash('a secret scene')).not.toBe(createPromptHasher(Buffer.alloc(32, 2))('a secret scene'));
    expect(hash('a secret scene')).not.toContain('secret');
    expect(hash('a red fox')).not.toBe(hash('a red fox '));
  });

  it('the key comes from the master key: the same on every instance, different per installation', () => {
    const a = createCredentialCipher(Buffer.alloc(32, 9));
    expect(a.deriveKey('prompt-hash').equals(createCredentialCipher(Buffer.alloc(32, 9)).deriveKey('prompt-hash'))).toBe(true);
    expect(a.deriveKey('prompt-hash').equals(createCredentialCipher(Buffer.alloc(32, 8)).deriveKey('prompt-hash'))).toBe(false);
    expect(a.deriveKey('prompt-hash').equals(Buffer.alloc(32, 9))).toBe(false);
  });
});
