import { lockAccountForRefresh, markAccountNeedsReimport, saveAccountCredentials, type AccountRow } from '../store/account-repo.js';
import { notifyControlChanged } from '../store/change-feed.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db, DbTx } from '../store/db.js';
import { parseCodexAuth } from '../upstream/codex-auth.js';
import type { CodexOAuthClient } from '../upstream/codex-oauth-client.js';
import { buildRefreshedAuthDocument } from '../upstream/refreshed-auth-document.js';

/** Refresh a token of unknown expiry when its last refresh is older than this (Codex CLI's 8 days). */
export const UNKNOWN_EXPIRY_REFRESH_INTERVAL_MS = 8 * 24 * 60 * 60 * 1000;

/** How one refresh attempt ended. `reason` never holds token text. */
export type RefreshOutcome =
  | { kind: 'refreshed' }
  | { kind: 'locked' }
  | { kind: 'not_due' }
  | { kind: 'gone' }
  | { kind: 'permanent'; reason: string }
  | { kind: 'transient'; reason: string }
  /** The token endpoint answered but the new tokens could not be stored: the refresher keeps them in memory and retries. */
  | { kind: 'unsaved'; reason: string };

/**
 * Rotated tokens the token endpoint issued but the database has not stored yet. Held only in the
 * refresher's memory (never logged, never in an error): the refresh token it carries is the only
 * valid one once the old one was spent.
 */
export interface UnsavedAuthDocument {
  /** The refreshed auth JSON, as it is to be sealed and stored. */
  readonly document: Record<string, unknown>;
  /** The refresh token the row still holds: storing the document is right only while it does (a re-import replaces it). */
  readonly storedRefreshToken: string;
}

/** What one attempt gives the refresher: the outcome, and the document to keep when it could not be stored. */
export interface RefreshAttempt {
  outcome: RefreshOutcome;
  /** Non-null when `outcome` is `unsaved` (or the attempt failed with a kept document still unsaved). */
  unsaved: UnsavedAuthDocument | null;
}

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
export const describePermanentFailure = (reason: string): string => `token refresh refused for good (${reason}); import this account's auth.json again`;

/**
 * Refreshes one account's tokens, at most one refresh per account at a time across every process:
 * inside one transaction it takes the account's advisory lock (skipping when another holds it),
 * re-reads the row, checks it is still due (`force`, for a 401: refresh anyway, unless a refresh
 * committed after `requestedAtMs`, the moment the 401 was reported), calls the token endpoint through the account's proxy, and stores the rotated tokens
 * (sealed) with a NOTIFY so every data plane reloads — before the lock is released, so nobody can
 * use the old, now spent, refresh token. A permanent refusal marks the account as needing re-import.
 *
 * `unsaved` is a document an earlier attempt could not store: while the row still holds the refresh
 * token it replaced, it stands in for the stored one (its refresh token is the live one; its expiry
 * decides whether another refresh is due) and is stored in this attempt, refreshed or not. When the
 * store (or the commit) fails after the token endpoint answered, the attempt resolves `unsaved` with
 * the new document instead of losing it.
 */
export async function refreshAccountToken(
  deps: AccountRefreshDeps,
  accountId: string,
  opts: { force: boolean; requestedAtMs?: number; unsaved?: UnsavedAuthDocument | null },
): Promise<RefreshAttempt> {
  // The document that must reach the database (null: none); survives a rolled-back transaction.
  let pending: UnsavedAuthDocument | null = opts.unsaved ?? null;
  let storedInTx = false;
  const store = async (tx: DbTx, row: AccountRow, document: UnsavedAuthDocument): Promise<void> => {
    pending = document;
    await storeRefreshedTokens(tx, row, document.document, deps);
    storedInTx = true;
  };
  try {
    const outcome = await deps.db.transaction(async (tx): Promise<RefreshOutcome> => {
      const lock = await lockAccountForRefresh(tx, accountId);
      if (!lock.locked) return { kind: 'locked' };
      if (!lock.row) {
        pending = null;
        return { kind: 'gone' };
      }
      const row = lock.row;
      const now = deps.now();
      let stored: { document: Record<string, unknown>; refreshToken: string | null };
      let proxyUrl: string | null;
      try {
        const auth = parseCodexAuth(deps.cipher.decrypt(row.credentialsEnc, 'account-credentials').toString('utf8'));
        stored = { document: auth.document, refreshToken: auth.refreshToken };
        proxyUrl = row.proxyUrlEnc ? deps.cipher.decrypt(row.proxyUrlEnc, 'account-proxy').toString('utf8') : null;
      } catch {
        return { kind: 'transient', reason: 'stored credentials cannot be opened (wrong master key or corrupted data)' };
      }
      // A kept document is void once the row holds another refresh token (a re-import, or the kept one was stored after all).
      const kept = opts.unsaved && stored.refreshToken === opts.unsaved.storedRefreshToken ? opts.unsaved : null;
      pending = kept;
      const current = kept ? parseCodexAuth(kept.document) : null;
      // With a kept document, a 401 needs no new refresh: storing it delivers a new access token.
      const due = current
        ? isRefreshDue(
            { ...row, accessTokenExpiresAt: current.accessTokenExpiresAt, lastRefreshAt: current.lastRefreshAt ?? now, needsReimport: false },
            now,
            deps.marginMs,
          )
        : shouldRefreshNow(row, now, deps.marginMs, opts);
      const refreshToken = current ? current.refreshToken : stored.refreshToken;
      if (refreshToken === null || !due) {
        if (!kept) return { kind: 'not_due' };
        await store(tx, row, kept);
        return { kind: 'refreshed' };
      }
      const result = await deps.oauth.refresh(refreshToken, proxyUrl);
      if (result.kind === 'permanent') {
        pending = null;
        await markAccountNeedsReimport(tx, row.id, describePermanentFailure(result.reason), deps.now());
        await notifyControlChanged(tx, 'accounts');
        return result;
      }
      if (result.kind === 'transient') {
        if (kept) await store(tx, row, kept);
        return result;
      }
      const refreshed = buildRefreshedAuthDocument(kept?.document ?? stored.document, result.tokens, now);
      await store(tx, row, { document: refreshed, storedRefreshToken: stored.refreshToken ?? refreshToken });
      return { kind: 'refreshed' };
    });
    return { outcome, unsaved: storedInTx ? null : pending };
  } catch (err) {
    const unsaved: UnsavedAuthDocument | null = pending;
    if (!unsaved) throw err;
    return { outcome: { kind: 'unsaved', reason: `the refreshed tokens could not be stored (${describeError(err)})` }, unsaved };
  }
}

/** An error's code or name, for logs and outcomes (messages could carry connection strings). */
export function describeError(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { code, name } = err as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}

function shouldRefreshNow(row: RefreshFacts, nowMs: number, marginMs: number, opts: { force: boolean; requestedAtMs?: number }): boolean {
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
