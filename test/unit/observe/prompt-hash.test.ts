import { describe, expect, it } from 'vitest';
import { hashPrompt } from '../../../src/observe/prompt-hash.js';

describe('hashPrompt', () => {
  it.each([
    { prompt: 'abc', hash: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
    { prompt: '', hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    // UTF-8, not UTF-16: "é" is c3 a9.
    { prompt: 'é', hash: '4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c' },
  ])('hashes $prompt as lowercase hex sha256', ({ prompt, hash }) => {
    expect(hashPrompt(prompt)).toBe(hash);
  });

  it('is 64 lowercase hex chars and never contains the prompt', () => {
    const h = hashPrompt('a secret scene');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toContain('secret');
  });

  it('distinguishes near-miss prompts', () => {
    expect(hashPrompt('a red fox')).not.toBe(hashPrompt('a red fox '));
  });
});
