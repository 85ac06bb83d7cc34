import type { InstanceRole } from '../store/instance-repo.js';
import type { JobStatus } from '../store/job-repo.js';
import type { QuotaPeriod } from '../limits/budget-period.js';
import type { AccountStatus, KeyStatus, KeyUsage, Settings } from '../store/types.js';
import type { UsageReport, UsageReportQuery, UsageSummary } from './usage-types.js';

/**
 * The control-plane operations, as one interface with two implementations: the service layer
 * (`createControlServices`, talks to the database) and the admin-API client (`createAdminClient`,
 * talks to a running instance). The admin API routes and every CLI command go through this, so both
 * paths validate the same way and give the same messages. Errors are GatewayError
 * (`invalid_request` with `param`, `not_found`, `conflict`).
 */
export interface ControlApi {
  keys: {
    list(): Promise<KeyView[]>;
    /** By id or by name. */
    get(ref: string): Promise<KeyView>;
    create(input: KeyCreateInput): Promise<CreatedKey>;
    update(ref: string, input: KeyUpdateInput): Promise<KeyView>;
    /** A new secret for the key, shown once; the old one is refused at once or after `graceMs`. */
    rotate(ref: string, input: KeyRotateInput): Promise<CreatedKey>;
    /** Starts the key's usage in its current quota period from zero (written to the app log by the caller). */
    resetUsage(ref: string): Promise<KeyView>;
    delete(ref: string): Promise<void>;
  };
  accounts: {
    list(): Promise<AccountView[]>;
    /** By id or by name. */
    get(ref: string): Promise<AccountView>;
    /**
     * Imports a Codex auth.json (a JWT access token with the ChatGPT account claim, and a refresh
     * token). Re-importing an account (same name, else same ChatGPT identity) replaces its
     * credentials and changes only the settings given; the answer says which happened.
     */
    import(input: AccountImportInput): Promise<AccountImportResult>;
    update(ref: string, input: AccountUpdateInput): Promise<AccountView>;
    delete(ref: string): Promise<void>;
  };
  groups: {
    list(): Promise<GroupView[]>;
    get(ref: string): Promise<GroupView>;
    create(input: { name: string; accounts?: string[] }): Promise<GroupView>;
    update(ref: string, input: { name?: string; accounts?: string[] }): Promise<GroupView>;
    delete(ref: string): Promise<void>;
  };
  settings: {
    get(): Promise<Settings>;
    update(input: Partial<Settings>): Promise<Settings>;
  };
  usage: {
    summary(): Promise<UsageSummary>;
    /**
     * The persistent usage history of a time range (hourly and daily rollups together), summed per
     * group, optionally for one key or account, with totals and latency percentiles.
     */
    report(query: UsageReportQuery): Promise<UsageReport>;
  };
  /** Model mapping rows (the strict switch is the setting `modelAliasesStrict`). */
  modelAliases: {
    /** Every row, ordered by alias. */
    list(): Promise<ModelAliasView[]>;
    /** Creates the row for `alias` (an exact name or a prefix pattern ending in `*`) or replaces its upstream model. */
    set(alias: string, input: { upstreamModel: string }): Promise<ModelAliasView>;
    /** Deletes the row for exactly `alias`; `not_found` when there is none. */
    remove(alias: string): Promise<void>;
    /** Replaces every row with the defaults (DEFAULT_MODEL_ALIASES); answers the new list. */
    reset(): Promise<ModelAliasView[]>;
  };
  /**
   * Async image jobs (`Prefer: respond-async`), for operators: ids, status, timings and codes, never
   * a result (it is sealed under the client's job id, which the gateway does not keep). A job is
   * named by its id hash or a unique prefix of it (at least 12 hex characters), like a git commit.
   */
  jobs: {
    /** Recent jobs, newest first. */
    list(filter?: JobListFilter): Promise<JobView[]>;
    /** One job by its id hash or a unique prefix of it. */
    show(ref: string): Promise<JobView>;
    /**
     * Asks the data plane that runs an open job to abort it (it does within JOB_HEARTBEAT_MS) and
     * answers the job as it is now; a job that already ended is answered unchanged.
     */
    cancel(ref: string): Promise<JobView>;
  };
  /** The instance registry: the processes that share this database, as their heartbeats say. */
  instances: {
    /** Every process seen in the last 24 h (live, dead or stopped), by role and then by start time. */
    list(): Promise<InstanceView[]>;
  };
}

/** One process of the deployment, from its heartbeat row; never a token. */
export interface InstanceView {
  /** `inst_` + 16 hex, fresh at every start (async jobs name their instance by it). */
  id: string;
  role: InstanceRole;
  /**
   * `live`: beating; `dead`: silent for more than INSTANCE_DEAD_AFTER_BEATS (3) of its heartbeat
   * periods without a clean stop (killed, or its host or database link is down); `stopped`: stopped cleanly.
   */
  state: 'live' | 'dead' | 'stopped';
  /** `state === 'live'`. */
  live: boolean;
  /** The package version it runs ('' for a row an older build wrote). */
  version: string;
  hostname: string;
  pid: number | null;
  /** The data-plane listener as bound; null for `control`. */
  listenUrl: string | null;
  /** The admin listener as bound; null for `serve`. */
  adminUrl: string | null;
  /** Where control planes read its GET /status; null without a status endpoint. */
  statusUrl: string | null;
  heartbeatMs: number;
  startedAt: number;
  /** Its last heartbeat. */
  lastSeenAt: number;
  stoppedAt: number | null;
}

/** Which jobs `jobs.list` answers. */
export interface JobListFilter {
  /** A key's name or id. */
  key?: string;
  status?: JobStatus;
  /** How many, newest first (FIELD_LIMITS.jobListLimit: range and default). */
  limit?: number;
}

/** A job as operators see it: never the client's job id, never the result. */
export interface JobView {
  /** The job's id hash (SHA-256 hex, derived from the client's job id): the job's name for operators. */
  id: string;
  keyId: string;
  /** Null when the key is gone. */
  keyName: string | null;
  endpoint: 'generations' | 'edits';
  status: JobStatus;
  /** A cancel was asked for and the running instance has not acted on it yet (or it ended first). */
  cancelRequested: boolean;
  /** The error code of a failed job (`instance_lost`, an upstream or gateway code). */
  errorCode: string | null;
  /** The HTTP status the plain request would have answered. */
  httpStatus: number | null;
  /** The data-plane instance that runs (or ran) the job. */
  instanceId: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** When the result is (or was) deleted. */
  expiresAt: number | null;
}

/** Routing as an operator writes it: accounts and groups by name (or id). */
export type KeyRoutingInput = { mode: 'all' } | { mode: 'accounts'; accounts: string[] } | { mode: 'group'; group: string };

export interface KeyCreateInput {
  name: string;
  status?: KeyStatus;
  imageEnabled?: boolean;
  /** What the quota limits count over (default `none`: the key's whole life). */
  quotaPeriod?: QuotaPeriod;
  /** Within FIELD_LIMITS.keyQuotaTokens, per quota period; null = unlimited. */
  quotaTokens?: number | null;
  /** Within FIELD_LIMITS.keyQuotaImages, per quota period; null = unlimited. */
  quotaImages?: number | null;
  /** Estimated cost in US dollars, within FIELD_LIMITS.keyQuotaCostUsd, per quota period; null = unlimited. */
  quotaCostUsd?: number | null;
  /** Within FIELD_LIMITS.keyMaxConcurrency; null = unlimited. */
  maxConcurrency?: number | null;
  /** Within FIELD_LIMITS.keyMinStartIntervalMs; null = no interval gate. */
  minStartIntervalMs?: number | null;
  routing?: KeyRoutingInput;
  /** When the key stops working: ms since epoch or an ISO-8601 date-time with an offset, in the future; null = never. */
  expiresAt?: number | string | null;
}

/** A rotation: how long the replaced secret keeps working (FIELD_LIMITS.keyRotationGraceMs; default 0 = refused at once). */
export interface KeyRotateInput {
  graceMs?: number;
}

export type KeyUpdateInput = Partial<KeyCreateInput>;

/** A key's budget as operators see it: the limits besides `quotaTokens`, and the current period's usage. */
export interface KeyBudgetView {
  quotaPeriod: QuotaPeriod;
  quotaImages: number | null;
  quotaCostUsd: number | null;
  /** Usage counted against the quota in the current period (since the last reset in it, if any). */
  periodUsage: {
    /** Period start (ms; 0 for a lifetime quota). */
    startsAt: number;
    /** When the period ends and the usage starts from 0 again (ms); null for a lifetime quota. */
    endsAt: number | null;
    images: number;
    tokens: number;
    /** An estimate from the price table, in US dollars. */
    estimatedCostUsd: number;
  };
  /** The last usage reset (ms); null when never reset. */
  usageResetAt: number | null;
}

/** A key as shown to operators: never the secret, never the full hash. */
export interface KeyView extends KeyBudgetView {
  id: string;
  name: string;
  /** First characters of the secret, for recognising it. */
  prefix: string;
  status: KeyStatus;
  imageEnabled: boolean;
  quotaTokens: number | null;
  maxConcurrency: number | null;
  minStartIntervalMs: number | null;
  /** Accounts and groups by name. */
  routing: KeyRoutingInput;
  usage: Omit<KeyUsage, 'keyId'>;
  /** When the key stops working (ms); null = never. */
  expiresAt: number | null;
  /** Until when the secret replaced by the last rotation still works (ms); null when it no longer does. */
  previousSecretExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** The create and rotate responses: the only times a secret exists outside the client's hands. */
export interface CreatedKey {
  key: KeyView;
  secret: string;
}

/** An import: the settings are optional; on a re-import an absent one keeps the account's value. */
export interface AccountImportInput {
  /** The auth JSON, as text or already parsed. */
  auth: unknown;
  name?: string;
  /** Default true for a new account. */
  imageEnabled?: boolean;
  /** Within FIELD_LIMITS.accountImageConcurrency, whose default a new account gets. */
  imageConcurrency?: number;
  proxyUrl?: string | null;
}

/**
 * What a re-import changed, by name only (never a value): the credentials' facts, then the
 * settings given (named by their wire field).
 */
export type AccountImportChange = 'tokens' | 'account_id' | 'email' | 'plan' | 'expiry' | 'name' | 'image_enabled' | 'image_concurrency' | 'proxy_url';

/** What `accounts.import` answers: the account as it is now, and whether it was created or updated. */
export interface AccountImportResult extends AccountView {
  /** `created`: a new account; `updated`: an existing account got the new credentials. */
  outcome: 'created' | 'updated';
  /** On `updated`, what differs from before (empty when nothing did); always empty on `created`. */
  changed: AccountImportChange[];
}

export interface AccountUpdateInput {
  name?: string;
  status?: AccountStatus;
  imageEnabled?: boolean;
  imageConcurrency?: number;
  /** null = direct connection. */
  proxyUrl?: string | null;
}

/** An account as shown to operators: never a token; the proxy with its password masked. */
export interface AccountView {
  id: string;
  name: string;
  status: AccountStatus;
  imageEnabled: boolean;
  imageConcurrency: number;
  proxy: string | null;
  planType: string | null;
  email: string | null;
  chatgptAccountId: string | null;
  accessTokenExpiresAt: number | null;
  hasRefreshToken: boolean;
  lastRefreshAt: number | null;
  lastError: string | null;
  /** The refresh token was refused for good: the account is out of routing until a new import. */
  needsReimport: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface GroupView {
  id: string;
  name: string;
  /** Account names, in the group's order. */
  accounts: string[];
  createdAt: number;
  updatedAt: number;
}

/** One model mapping row as shown to operators. */
export interface ModelAliasView {
  /** An exact model name, or a prefix pattern ending in `*`. */
  alias: string;
  upstreamModel: string;
  /** True for a prefix pattern (it is not listed by `/v1/models`). */
  pattern: boolean;
  createdAt: number;
  updatedAt: number;
}

/** Where operator actions that change what a key may spend are written (the process's app log). */
export interface AuditLog {
  info(fields: object, message: string): void;
}
