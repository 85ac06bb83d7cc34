import { lockAccountForRefresh, markAccountNeedsReimport, saveAccountCredentials, type AccountRow } from '../store/account-repo.js';
import { notifyControlChanged } from '../store/change-feed.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db, DbTx } from '../store/db.js';
import { parseCodexAuth } from '../upstream/codex-auth.js';
import type { CodexOAuthClient } from '../upstream/codex-oauth-client.js';
import { buildRefreshedAuthDocument } from '../upstream/refreshed-auth-document.js';

/** Refresh a token of unknown expiry when its last refresh is older than this (Codex CLI's 8 days, contract §2.5). */
export const UNKNOWN_EXPIRY_REFRESH_INTERVAL_MS = 8 * 24 * 60 * 60 * 1000;

/** How one refresh attempt ended. `reason` never holds token text. */
export type RefreshOutcome =
  | { kind: 'refreshed' }
  | { kind: 'locked' }
  | { kind: 'not_due' }
  | { kind: 'gone' }
  | { kind: 'permanent'; reason: string }
  | { kind: 'transient'; reason: string };

/** What a refresh needs. */
export interface AccountRefreshDeps {
  db: Db;
  cipher: CredentialCipher;
  oauth: CodexOAuthClient;
  now: () => number;
  /** Refresh this long before the access token's `exp` (TOKEN_REFRESH_MARGIN_MS). */
  marginMs: number;
}

type RefreshFacts = Pick<AccountRow, 'status' | 'needsReimport' | 'hasRefreshToken' | 'accessTokenExpiresAt' | 'lastRefreshAt'>;

/** Whether the refresher may refresh the account at all: active, holding a refresh token, not condemned. */
export const isRefreshable = (row: RefreshFacts): boolean => row.status === 'active' && row.hasRefreshToken && !row.needsReimport;

/**
 * Whether a refreshable account's token is due (pure): its `exp` is within `marginMs`; or, with no
 * known `exp`, its last refresh is unknown or older than 8 days.
 */
export function isRefreshDue(row: RefreshFacts, nowMs: number, marginMs: number): boolean {
  if (!isRefreshable(row)) return false;
  if (row.accessTokenExpiresAt !== null) return nowMs >= row.accessTokenExpiresAt - marginMs;
  return row.lastRefreshAt === null || nowMs - row.lastRefreshAt >= UNKNOWN_EXPIRY_REFRESH_INTERVAL_MS;
}

/** The wording stored as `last_error` after a permanent failure (operators read it in the console). */
export const describePermanentFailure = (reason: string): string =>
  `token refresh refused for good (${reason}); import this account's auth.json again`;

/**
 * Refreshes one account's tokens, at most one refresh per account at a time across every process:
 * inside one transaction it takes the account's advisory lock (skipping when another holds it),
 * re-reads the row, checks it is still due (`force`, for a 401: refresh anyway, unless a refresh
 * committed after `requestedAtMs`, the moment the 401 was reported), calls the token endpoint through the account's proxy, and stores the rotated tokens
 * (sealed) with a NOTIFY so every data plane reloads — before the lock is released, so nobody can
 * use the old, now spent, refresh token. A permanent refusal marks the account as needing re-import.
 */
export function refreshAccountToken(deps: AccountRefreshDeps, accountId: string, opts: { force: boolean; requestedAtMs?: number }): Promise<RefreshOutcome> {
  return deps.db.transaction(async (tx) => {
    const lock = await lockAccountForRefresh(tx, accountId);
    if (!lock.locked) return { kind: 'locked' };
    if (!lock.row) return { kind: 'gone' };
    const row = lock.row;
    const now = deps.now();
    if (!shouldRefreshNow(row, now, deps.marginMs, opts)) return { kind: 'not_due' };
    let document: Record<string, unknown>;
    let refreshToken: string | null;
    let proxyUrl: string | null;
    try {
      const auth = parseCodexAuth(deps.cipher.decrypt(row.credentialsEnc, 'account-credentials').toString('utf8'));
      document = auth.document;
      refreshToken = auth.refreshToken;
      proxyUrl = row.proxyUrlEnc ? deps.cipher.decrypt(row.proxyUrlEnc, 'account-proxy').toString('utf8') : null;
    } catch {
      return { kind: 'transient', reason: 'stored credentials cannot be opened (wrong master key or corrupted data)' };
    }
    if (refreshToken === null) return { kind: 'not_due' };
    const result = await deps.oauth.refresh(refreshToken, proxyUrl);
    if (result.kind === 'transient') return result;
    if (result.kind === 'permanent') {
      await markAccountNeedsReimport(tx, row.id, describePermanentFailure(result.reason), deps.now());
      await notifyControlChanged(tx, 'accounts');
      return result;
    }
    await storeRefreshedTokens(tx, row, buildRefreshedAuthDocument(document, result.tokens, now), deps);
    return { kind: 'refreshed' };
  });
}

function shouldRefreshNow(row: AccountRow, nowMs: number, marginMs: number, opts: { force: boolean; requestedAtMs?: number }): boolean {
  if (!opts.force) return isRefreshDue(row, nowMs, marginMs);
  if (!isRefreshable(row)) return false;
  // Another process refreshed it after the 401 was reported: the data plane will get that token.
  return opts.requestedAtMs === undefined || row.lastRefreshAt === null || row.lastRefreshAt <= opts.requestedAtMs;
}

/** Seals the new auth JSON and rewrites what is read from it (expiry, plan, email), then NOTIFYs. */
async function storeRefreshedTokens(tx: DbTx, row: AccountRow, document: Record<string, unknown>, deps: AccountRefreshDeps): Promise<void> {
  const auth = parseCodexAuth(document);
  const at = deps.now();
  await saveAccountCredentials(tx, row.id, {
    credentialsEnc: deps.cipher.encrypt(JSON.stringify(document), 'account-credentials'),
    hasRefreshToken: auth.refreshToken !== null,
    chatgptAccountId: auth.chatgptAccountId ?? row.chatgptAccountId,
    email: auth.email ?? row.email,
    planType: auth.planType ?? row.planType,
    accessTokenExpiresAt: auth.accessTokenExpiresAt,
    lastRefreshAt: auth.lastRefreshAt ?? at,
    lastError: null,
    needsReimport: false,
    updatedAt: at,
  });
  await notifyControlChanged(tx, 'accounts');
}
