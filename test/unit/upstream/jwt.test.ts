import { describe, expect, it } from 'vitest';
import { decodeJwtPayload, readJwtExpiryMs } from '../../../src/upstream/jwt.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const token = (payload: unknown, pad = '') => `${b64({ alg: 'RS256' })}.${b64(payload)}${pad}.c2lnbmF0dXJl`;

describe('decodeJwtPayload', () => {
  it('decodes an unpadded base64url payload', () => {
    expect(decodeJwtPayload(token({ exp: 10, sub: 'a' }))).toEqual({ exp: 10, sub: 'a' });
  });

  it('accepts a padded payload and surrounding whitespace', () => {
    // {"a":1} is 7 bytes: base64 needs one '=' of padding.
    const padded = `x.${Buffer.from('{"a":1}').toString('base64')}.y`;
    expect(padded).toContain('=');
    expect(decodeJwtPayload(` ${padded}\n`)).toEqual({ a: 1 });
  });

  it('decodes characters that base64url spells with - and _', () => {
    const payload = { s: '>>>???' };
    expect(b64(payload)).toMatch(/[-_]/);
    expect(decodeJwtPayload(token(payload))).toEqual(payload);
  });

  it.each([
    ['not a string', 42],
    ['null', null],
    ['empty', ''],
    ['two parts', 'a.b'],
    ['four parts', 'a.b.c.d'],
    ['empty payload', 'a..c'],
    ['bad characters', 'a.b$c.d'],
    ['non-JSON payload', `a.${Buffer.from('hello').toString('base64url')}.c`],
    ['array payload', `a.${b64([1, 2])}.c`],
    ['string payload', `a.${b64('text')}.c`],
  ])('returns null for %s', (_label, value) => {
    expect(decodeJwtPayload(value)).toBeNull();
  });
});

describe('readJwtExpiryMs', () => {
  it('turns exp seconds into milliseconds', () => {
    expect(readJwtExpiryMs(token({ exp: 1_767_225_600 }))).toBe(1_767_225_600_000);
  });

  it.each([
    ['no exp', token({ sub: 'x' })],
    ['string exp', token({ exp: '1767225600' })],
    ['zero exp', token({ exp: 0 })],
    ['not a JWT', 'opaque-token'],
  ])('is null for %s', (_label, value) => {
    expect(readJwtExpiryMs(value)).toBeNull();
  });
});
