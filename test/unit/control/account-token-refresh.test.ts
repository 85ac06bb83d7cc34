import { describe, expect, it } from 'vitest';
import type { AccountStatus } from '../../../src/store/types.js';
import { describePermanentFailure, isRefreshDue, UNKNOWN_EXPIRY_REFRESH_INTERVAL_MS } from '../../../src/control/account-token-refresh.js';

const NOW = 1_800_000_000_000;
const MARGIN = 600_000;
const DAY = 24 * 3600 * 1000;
const row = (over: Partial<Parameters<typeof isRefreshDue>[0]> = {}) => ({
  status: 'active' as AccountStatus,
  needsReimport: false,
  hasRefreshToken: true,
  accessTokenExpiresAt: NOW + 3_600_000,
  lastRefreshAt: NOW - DAY,
  ...over,
});

describe('isRefreshDue', () => {
  it.each<[string, ReturnType<typeof row>, boolean]>([
    ['exp an hour away', row(), false],
    ['exp just outside the margin', row({ accessTokenExpiresAt: NOW + MARGIN + 1 }), false],
    ['exp exactly at the margin', row({ accessTokenExpiresAt: NOW + MARGIN }), true],
    ['exp already past', row({ accessTokenExpiresAt: NOW - 1 }), true],
    ['unknown exp, refreshed 7 days ago', row({ accessTokenExpiresAt: null, lastRefreshAt: NOW - 7 * DAY }), false],
    ['unknown exp, refreshed 8 days ago', row({ accessTokenExpiresAt: null, lastRefreshAt: NOW - UNKNOWN_EXPIRY_REFRESH_INTERVAL_MS }), true],
    ['unknown exp, never refreshed', row({ accessTokenExpiresAt: null, lastRefreshAt: null }), true],
    ['due but disabled', row({ accessTokenExpiresAt: NOW, status: 'disabled' }), false],
    ['due but needs re-import', row({ accessTokenExpiresAt: NOW, needsReimport: true }), false],
    ['due but no refresh token', row({ accessTokenExpiresAt: NOW, hasRefreshToken: false }), false],
  ])('%s → %s', (_name, input, due) => {
    expect(isRefreshDue(input, NOW, MARGIN)).toBe(due);
  });
});

it('the stored error names the reason and what to do', () => {
  expect(describePermanentFailure('refresh_token_reused')).toBe("token refresh refused for good (refresh_token_reused); import this account's auth.json again");
});
