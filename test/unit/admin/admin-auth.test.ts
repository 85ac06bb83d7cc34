import { describe, expect, it } from 'vitest';
import { isAdminTokenMatch, parseBearerToken } from '../../../src/admin/admin-auth.js';

describe('parseBearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
  ])('%j -> %j', (header, token) => expect(parseBearerToken(header)).toBe(token));

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearerabc', 'Bearer a b', 'abc'])('refuses %j', (header) => {
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
