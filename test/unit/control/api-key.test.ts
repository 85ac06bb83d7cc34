import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { API_KEY_PREFIX, buildKeyDisplayPrefix, generateApiKeySecret, hashApiKey, isAdminTokenMatch, parseBearerToken } from '../../../src/control/api-key.js';

describe('generateApiKeySecret', () => {
  it('is cig_ followed by 43 base62 characters (256 bits)', () => {
    const secret = generateApiKeySecret();
    expect(secret).toMatch(/^cig_[0-9A-Za-z]{43}$/);
    expect(43 * Math.log2(62)).toBeGreaterThanOrEqual(256);
  });

  it('never repeats and uses the whole alphabet', () => {
    const secrets = Array.from({ length: 2000 }, generateApiKeySecret);
    expect(new Set(secrets).size).toBe(secrets.length);
    const chars = new Set(secrets.join('').slice(0));
    for (const c of '09AZaz') expect(chars.has(c)).toBe(true);
  });
});

describe('hashApiKey', () => {
  it('is the lowercase hex SHA-256 of the secret', () => {
    expect(hashApiKey('cig_abc')).toBe(createHash('sha256').update('cig_abc').digest('hex'));
    expect(hashApiKey('cig_abc')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs for near-miss secrets', () => {
    expect(hashApiKey('cig_abc')).not.toBe(hashApiKey('cig_abd'));
    expect(hashApiKey('cig_abc')).not.toBe(hashApiKey('cig_abc '));
  });
});

describe('buildKeyDisplayPrefix', () => {
  it('keeps cig_ and the next 8 characters only', () => {
    const secret = generateApiKeySecret();
    expect(buildKeyDisplayPrefix(secret)).toBe(secret.slice(0, 12));
    expect(buildKeyDisplayPrefix(secret).startsWith(API_KEY_PREFIX)).toBe(true);
  });
});

describe('parseBearerToken (the original rule: split on the first space, scheme any case, token trimmed)', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Bearer secret-1', 'secret-1'],
    ['Bearer a b', 'a b'],
  ])('%j -> %j', (header, token) => expect(parseBearerToken(header)).toBe(token));

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Bearer    ', 'Basic abc', 'Bearerabc', 'Bearer\tabc', 'abc', ' Bearer abc'])('refuses %j', (header) => {
    expect(parseBearerToken(header)).toBeNull();
  });
});

describe('isAdminTokenMatch', () => {
  it('matches only the exact token', () => {
    expect(isAdminTokenMatch('s3cret-token', 's3cret-token')).toBe(true);
    for (const near of ['s3cret-toke', 's3cret-tokenx', 'S3cret-token', '', ' s3cret-token']) {
      expect(isAdminTokenMatch(near, 's3cret-token'), near).toBe(false);
    }
  });
});
