import { describe, expect, it } from 'vitest';
import { createCapability, createCapabilitySealer, openCapability, openWithCapability, sealWithCapability } from '../../../src/store/capability-seal.js';

describe('capability seal', () => {
  it('a token opens back to the same hash and key, and opens what was sealed', () => {
    const made = createCapability('imgjob_');
    expect(made.token).toMatch(/^imgjob_[A-Za-z0-9_-]{43}$/);
    const again = openCapability('imgjob_', made.token)!;
    expect(again.idHash).toBe(made.idHash);
    expect(again.key.equals(made.key)).toBe(true);
    const sealed = sealWithCapability(made, Buffer.from('{"data":[]}'));
    expect(sealed.includes(Buffer.from('data'))).toBe(false);
    expect(openWithCapability(again, sealed).toString()).toBe('{"data":[]}');
  });

  it('only the canonical spelling opens: a last character differing in the padding bits is no token', () => {
    const secret = Buffer.alloc(32, 7);
    const canonical = `imgres_${secret.toString('base64url')}`;
    expect(openCapability('imgres_', canonical)).not.toBeNull();
    // 32 bytes end in 4 data bits and 2 padding bits: 'A' and 'B'..'D' decode alike, only 'A' is made.
    const zeroTail = Buffer.alloc(32, 0);
    const made = `imgres_${zeroTail.toString('base64url')}`;
    expect(made.endsWith('A')).toBe(true);
    expect(Buffer.from(`${made.slice(7, -1)}B`, 'base64url').equals(zeroTail)).toBe(true);
    expect(openCapability('imgres_', `${made.slice(0, -1)}B`)).toBeNull();
    expect(openCapability('imgres_', made)).not.toBeNull();
  });

  it('the stored hash reveals neither the token nor the key', () => {
    const made = createCapability('imgjob_');
    expect(made.idHash).toMatch(/^[0-9a-f]{64}$/);
    expect(made.idHash).not.toBe(made.key.toString('hex'));
    expect(made.token).not.toContain(made.idHash);
  });

  it('another capability cannot open it, and a changed byte is detected', () => {
    const a = createCapability('x_');
    const sealed = sealWithCapability(a, Buffer.from('secret result'));
    expect(() => openWithCapability(createCapability('x_'), sealed)).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => openWithCapability(a, tampered)).toThrow();
    expect(() => openWithCapability(a, sealed.subarray(0, 10))).toThrow('too short');
  });

  it.each(['', 'imgjob_', 'imgjob_short', `imgres_${'A'.repeat(43)}`, `imgjob_${'A'.repeat(42)}!`, `imgjob_${'A'.repeat(44)}`])(
    'refuses the malformed token %j',
    (token) => {
      expect(openCapability('imgjob_', token)).toBeNull();
    },
  );

  it('a value sealed in pieces opens like one sealed whole', () => {
    const made = createCapability('imgres_');
    const plain = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 13) & 0xff));
    const sealer = createCapabilitySealer(made);
    for (let i = 0; i < plain.length; i += 777) sealer.update(plain.subarray(i, i + 777));
    const sealed = sealer.finish();
    expect(sealed.length).toBe(sealWithCapability(made, plain).length);
    expect(sealed.includes(plain.subarray(100, 132))).toBe(false);
    expect(openWithCapability(openCapability('imgres_', made.token)!, sealed)).toEqual(plain);
    expect(() => openWithCapability(createCapability('imgres_'), sealed)).toThrow();
  });
});
