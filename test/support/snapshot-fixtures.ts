import { SETTINGS_DEFAULTS } from '../../src/store/settings-defaults.js';
import { indexKeysByHash } from '../../src/store/snapshot-loader.js';
import type { AccountRecord, KeyRecord, Snapshot } from '../../src/store/types.js';
import type { AccountCredentials } from '../../src/upstream/codex-auth.js';

/** A key record with sensible defaults, for unit tests that do not touch a database. */
export function makeKey(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id: 'key_1',
    name: 'test key',
    hash: 'h'.repeat(64),
    prefix: 'cig_test',
    status: 'active',
    imageEnabled: true,
    quotaPeriod: 'none',
    quotaTokens: null,
    quotaImages: null,
    quotaCostMicros: null,
    usageReset: null,
    maxConcurrency: null,
    minStartIntervalMs: null,
    routing: { mode: 'all' },
    expiresAt: null,
    previousSecret: null,
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  };
}

/** An account record plus credentials, as the snapshot holds it. */
export function makeAccount(
  name: string,
  overrides: Partial<AccountRecord> = {},
  credentials: AccountCredentials | null = { accessToken: `tok-${name}`, refreshToken: null, idToken: null, chatgptAccountId: `acct-${name}`, fedramp: false },
): AccountRecord & { credentials: AccountCredentials | null } {
  return {
    id: `acct_${name}`,
    name,
    status: 'active',
    imageEnabled: true,
    imageConcurrency: 3,
    proxyUrl: null,
    planType: 'plus',
    email: null,
    chatgptAccountId: `acct-${name}`,
    accessTokenExpiresAt: null,
    lastRefreshAt: null,
    lastError: null,
    needsReimport: false,
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
    credentials,
  };
}

/** A snapshot holding the given keys and accounts (groups optional). */
export function makeSnapshot(
  keys: KeyRecord[],
  accounts: Array<AccountRecord & { credentials: AccountCredentials | null }>,
  groups: Snapshot['groups'] = new Map(),
): Snapshot {
  return {
    keysByHash: indexKeysByHash(keys, 0),
    accounts: new Map(accounts.map((a) => [a.id, a])),
    groups,
    periodUsage: new Map(),
    settings: { ...SETTINGS_DEFAULTS },
    modelAliases: [],
    loadedAt: 0,
    masterKeyMatches: true,
  };
}
