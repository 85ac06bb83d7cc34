/** Control data as the data plane sees it: plain records in an in-memory snapshot. */
import type { FieldPolicyMode, NMode } from '../images/field-policy.js';
import type { QuotaPeriod } from '../limits/budget-period.js';
import type { BudgetAmounts } from '../limits/key-budget.js';
import type { PriceTable } from '../pricing/price-table.js';
import type { AccountCredentials } from '../upstream/codex-auth.js';

export type KeyStatus = 'active' | 'disabled';
export type AccountStatus = 'active' | 'disabled';

/** How a key picks accounts: every account, a fixed ordered list, or a named group. */
export type KeyRouting = { mode: 'all' } | { mode: 'accounts'; accountIds: string[] } | { mode: 'group'; groupId: string };

export interface KeyRecord {
  id: string;
  name: string;
  /** Lowercase hex SHA-256 of the secret; the secret itself is never stored. */
  hash: string;
  /** First characters of the secret (`cig_ab12…`), for recognising a key in lists. */
  prefix: string;
  status: KeyStatus;
  imageEnabled: boolean;
  /** What the quota limits count over: the key's whole life (`none`) or the current day, week or month. */
  quotaPeriod: QuotaPeriod;
  /** Usage tokens this key may consume in its quota period; null = unlimited. */
  quotaTokens: number | null;
  /** Images this key may make in its quota period; null = unlimited. */
  quotaImages: number | null;
  /** Estimated cost (millionths of a US dollar) this key may run up in its quota period; null = unlimited. */
  quotaCostMicros: number | null;
  /**
   * The last reset of the key's usage: when, and its period's usage at that moment (the baseline
   * subtracted while that period lasts). Null when never reset.
   */
  usageReset: ({ at: number } & BudgetAmounts) | null;
  /** Null = unlimited. */
  maxConcurrency: number | null;
  /** Null = no interval gate. */
  minStartIntervalMs: number | null;
  routing: KeyRouting;
  /** When the key stops working by itself (ms since epoch); null = never. */
  expiresAt: number | null;
  /**
   * The secret a rotation replaced, still accepted during the grace period the operator granted:
   * its SHA-256 and the end of that period (ms). Null without a grace period or once it is over.
   */
  previousSecret: { hash: string; expiresAt: number } | null;
  createdAt: number;
  updatedAt: number;
}

export interface AccountRecord {
  id: string;
  name: string;
  status: AccountStatus;
  imageEnabled: boolean;
  /** Most concurrent image requests on this account (per process), within FIELD_LIMITS.accountImageConcurrency. */
  imageConcurrency: number;
  /** Proxy URL (http, https, socks5, socks5h), possibly with credentials; null = direct. */
  proxyUrl: string | null;
  planType: string | null;
  email: string | null;
  chatgptAccountId: string | null;
  /** Access-token expiry (ms since epoch) from the JWT `exp`; null = unknown, treated as usable. */
  accessTokenExpiresAt: number | null;
  lastRefreshAt: number | null;
  lastError: string | null;
  /** The OAuth server refused the refresh token for good: out of routing until a new import. */
  needsReimport: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface GroupRecord {
  id: string;
  name: string;
  accountIds: string[];
  createdAt: number;
  updatedAt: number;
}

/** Runtime settings stored in the database (changed through the admin API). */
export interface Settings {
  codexClientVersion: string;
  logMaxFileBytes: number;
  logMaxFileAgeMs: number;
  logMaxFiles: number;
  fieldPolicy: FieldPolicyMode;
  nMode: NMode;
  /** Browser origins allowed to call the public API (CORS): exact `scheme://host[:port]`, or `['*']`; empty = CORS off. */
  corsAllowedOrigins: readonly string[];
  /** Model mapping: an unknown `model` is a 400 naming the allowed names (true) or gets the default model (false). */
  modelAliasesStrict: boolean;
  /** The chat model that calls the image_generation tool on the Responses path. */
  responsesHostModel: string;
  /** Serve a plain request through the Responses path when the images endpoint is unavailable. */
  responsesFallback: boolean;
  /** Most async jobs one key may have waiting to start. */
  jobMaxQueuedPerKey: number;
  /** The IANA time zone at whose midnight keys' daily, weekly and monthly budgets reset. */
  budgetTimeZone: string;
  /** What each upstream model costs, per image and/or per 1M tokens: the ground of every estimated cost. */
  priceTable: PriceTable;
}

/**
 * One `model_aliases` row: `alias` (an exact model name, or a prefix pattern ending in `*`) is
 * served by `upstreamModel`. Structurally a `ModelAlias` of src/images/model-aliases.ts.
 */
export interface ModelAliasRecord {
  alias: string;
  upstreamModel: string;
  createdAt: number;
  updatedAt: number;
}

export interface KeyUsage {
  keyId: string;
  requests: number;
  successes: number;
  images: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  usageMissing: number;
  /** The estimated cost of this usage by the price table in force when each request ended, in micro-USD (1e-6 USD). */
  estimatedCostMicros: number;
  lastUsedAt: number | null;
}

/** A key's usage in one quota period. */
export interface PeriodUsage {
  /** Start of the period (ms; 0 for a lifetime quota). */
  periodStartMs: number;
  /** End of the period (ms); null for a lifetime quota. */
  periodEndMs: number | null;
  used: BudgetAmounts;
}

/** What the hot path reads: everything needed to authenticate and route without a database trip. */
export interface Snapshot {
  /** Keys by the SHA-256 of each secret they accept: the current one and a rotated-out one in its grace period. */
  keysByHash: ReadonlyMap<string, KeyRecord>;
  accounts: ReadonlyMap<string, AccountRecord & { credentials: AccountCredentials | null }>;
  groups: ReadonlyMap<string, GroupRecord>;
  /**
   * Each budgeted key's usage in its quota period as stored when the snapshot was loaded (reset
   * baseline taken off), with the start of the period it counted (a later period starts from 0).
   */
  periodUsage: ReadonlyMap<string, PeriodUsage>;
  settings: Settings;
  /** The model_aliases rows, ordered by alias. */
  modelAliases: readonly ModelAliasRecord[];
  /** When the load began (ms): writes finished before it are included, later ones are not. */
  loadedAt: number;
  /**
   * False when this process's master key cannot open the database's credentials: the stored key
   * check does not open with it, or (no check stored yet) accounts exist and none opens. /readyz is 503 then.
   */
  masterKeyMatches: boolean;
}

/** Usage to add to one key's counters; applied atomically (increments, never read-modify-write). */
export interface KeyUsageDelta {
  keyId: string;
  requests: number;
  successes: number;
  images: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  usageMissing: number;
  /** Estimated cost in micro-USD (src/pricing/cost-estimate.ts). */
  estimatedCostMicros: number;
  /** ms since epoch; the stored value only moves forward. */
  lastUsedAt: number;
}

/**
 * Why a request that did not succeed failed, as the usage rollups count it (a small fixed set, so a
 * rollup row has one column per class): `rate_limited` for a 429 (key limits, busy or rate-limited
 * accounts), `client` for another 4xx, `aborted` for a client that went away (499), `upstream` for
 * everything else (5xx, exhausted accounts, a body that broke after a 2xx).
 */
export type UsageFailureClass = 'rate_limited' | 'client' | 'upstream' | 'aborted';

/**
 * What one request adds to the usage rollups besides its key's counters: the dimensions of its rollup
 * row and the measures a key's counters do not hold. Ids, names and counts only: never a prompt or an image.
 */
export interface UsageRollupFacts {
  /** Start (ms since epoch) of the UTC hour in which the request started. */
  hourStart: number;
  /** The account of the request's final attempt; null when no account answered (rejected, exhausted). */
  accountId: string | null;
  /** The upstream model (after the alias table). */
  model: string;
  endpoint: string;
  /** Null for a success. */
  failureClass: UsageFailureClass | null;
  /** Bytes of upstream response body the gateway read (0 when none arrived). */
  upstreamBytes: number;
  /** From the request's start to its outcome being recorded, in ms. */
  latencyMs: number;
  /** True when the request produced images or tokens for a model the price table does not price (its estimated cost counts as 0). */
  unpriced: boolean;
  /** The part of its input tokens the upstream reported as image tokens (an edit's input images); 0 when none or unknown. */
  imageInputTokens: number;
}

/**
 * One rollup row's increments: the sums over the requests of one (hour or day, key, account, model,
 * endpoint). `latencyBuckets[i]` counts requests with latency ≤ USAGE_LATENCY_BUCKETS_MS[i] (and above
 * the bucket before it); the last element counts those above every bound.
 */
export interface UsageRollupDelta {
  /** Start of the hour (hourly rows) or of the UTC day (daily rows), ms since epoch. */
  bucketStart: number;
  keyId: string;
  accountId: string | null;
  model: string;
  endpoint: string;
  requests: number;
  successes: number;
  failuresRateLimited: number;
  failuresClient: number;
  failuresUpstream: number;
  failuresAborted: number;
  images: number;
  inputTokens: number;
  /** The part of `inputTokens` that was images. */
  imageInputTokens: number;
  outputTokens: number;
  totalTokens: number;
  usageMissing: number;
  estimatedCostMicros: number;
  /** Requests counted at an estimated cost of 0 because the price table does not price their model. */
  unpricedRequests: number;
  upstreamBytes: number;
  latencyMsSum: number;
  latencyBuckets: number[];
}
