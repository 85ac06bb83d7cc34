import { describe, expect, it } from 'vitest';
import { isAdminTokenMatch } from '../../../src/admin/admin-auth.js';

describe('isAdminTokenMatch', () => {
  it('matches only the exact token', () => {
    expect(isAdminTokenMatch('s3cret-token', 's3cret-token')).toBe(true);
    for (const near of ['s3cret-toke', 's3cret-tokenx', 'S3cret-token', '', ' s3cret-token']) {
      expect(isAdminTokenMatch(near, 's3cret-token'), near).toBe(false);
    }
  });
});
