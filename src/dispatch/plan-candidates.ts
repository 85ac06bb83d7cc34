import { assertNever } from '../guards/assert-never.js';
import type { AccountRecord, KeyRecord, Snapshot } from '../store/types.js';
import type { AccountCredentials } from '../upstream/codex-auth.js';
import type { AccountCooldown } from './account-health.js';

/** An account the dispatcher may try, with what the attempt needs. */
export interface Candidate {
  account: AccountRecord;
  credentials: AccountCredentials;
}

/**
 * Why an image-enabled account of the key's routing cannot be tried right now. A cooldown after an
 * upstream 429 is `rate_limited`; one after 5xx/timeouts/network failures or a 401 is `cooling_down`.
 */
export type ExclusionReason = 'token_expired' | 'free_plan' | 'credentials_unreadable' | 'needs_reimport' | 'cooling_down' | 'rate_limited';

export interface CandidatePlan {
  /** Accounts of the key's routing that are active and image-enabled (before usability checks). */
  imageEnabledCount: number;
  candidates: Candidate[];
  excluded: ExclusionReason[];
  /** Earliest end of the cooldowns that excluded accounts (ms since epoch); null when none did. */
  cooldownUntilMs: number | null;
}

export interface PlanOptions {
  now: number;
  allowFreePlans: boolean;
  inFlight: (accountId: string) => number;
  lastStartMs: (accountId: string) => number;
  /**
   * The account's running cooldown (account health), given its current access token; absent = none.
   * Must be a pure read (AccountHealth.peekCooldown): a planned account may never be tried, so
   * planning takes nothing (no re-probe); the attempt loop claims an account when it tries it.
   */
  cooldownOf?: (accountId: string, accessToken: string) => AccountCooldown | null;
}

/** Account ids a key routes to, in routing order (unknown ids are dropped). */
export function resolveRoutedAccountIds(key: KeyRecord, snapshot: Snapshot): string[] {
  switch (key.routing.mode) {
    case 'all':
      return [...snapshot.accounts.keys()];
    case 'accounts':
      return key.routing.accountIds.filter((id) => snapshot.accounts.has(id));
    case 'group':
      return snapshot.groups.get(key.routing.groupId)?.accountIds.filter((id) => snapshot.accounts.has(id)) ?? [];
    default:
      return assertNever(key.routing);
  }
}

/**
 * Whether image requests may be routed to the account at all: active and image-enabled. Whether it
 * can be tried right now (token, plan, cooldown) is `exclusionOf`'s question, asked per request.
 */
export const isImageRoutable = (account: AccountRecord): boolean => account.status === 'active' && account.imageEnabled;

/** Usability of one active, image-enabled account; null when it may be tried. */
export function exclusionOf(
  account: AccountRecord,
  credentials: AccountCredentials | null,
  opts: Pick<PlanOptions, 'now' | 'allowFreePlans'>,
): ExclusionReason | null {
  if (account.needsReimport) return 'needs_reimport';
  if (!credentials?.accessToken) return 'credentials_unreadable';
  // An undecodable token has no known expiry: treated as usable, as the original did.
  if (account.accessTokenExpiresAt !== null && opts.now >= account.accessTokenExpiresAt) return 'token_expired';
  if (!opts.allowFreePlans && account.planType?.toLowerCase() === 'free') return 'free_plan';
  return null;
}

/**
 * Plans the accounts to try for one request: the key's routing ∩ active ∩ image-enabled ∩ usable,
 * ordered to spread load — fewest in flight relative to the account's cap, then least recently
 * started, then by name so that equal cases are deterministic. Side-effect free.
 */
export function planCandidates(key: KeyRecord, snapshot: Snapshot, opts: PlanOptions): CandidatePlan {
  const candidates: Candidate[] = [];
  const excluded: ExclusionReason[] = [];
  let imageEnabledCount = 0;
  let cooldownUntilMs: number | null = null;
  for (const id of new Set(resolveRoutedAccountIds(key, snapshot))) {
    const entry = snapshot.accounts.get(id);
    if (!entry || !isImageRoutable(entry)) continue;
    imageEnabledCount += 1;
    const reason = exclusionOf(entry, entry.credentials, opts);
    const cooldown = reason || !entry.credentials ? null : (opts.cooldownOf?.(id, entry.credentials.accessToken) ?? null);
    if (cooldown) cooldownUntilMs = Math.min(cooldownUntilMs ?? cooldown.untilMs, cooldown.untilMs);
    if (reason || cooldown) excluded.push(reason ?? (cooldown?.cause === 'rate_limited' ? 'rate_limited' : 'cooling_down'));
    else candidates.push({ account: entry, credentials: entry.credentials as AccountCredentials });
  }
  const load = (c: Candidate) => opts.inFlight(c.account.id) / Math.max(1, c.account.imageConcurrency);
  const ordered = [...candidates].sort(
    (a, b) => load(a) - load(b) || opts.lastStartMs(a.account.id) - opts.lastStartMs(b.account.id) || a.account.name.localeCompare(b.account.name),
  );
  return { imageEnabledCount, candidates: ordered, excluded, cooldownUntilMs };
}
