/**
 * The bounds and defaults of every number an operator sets in control data: key and account limits,
 * record and model names, the runtime settings, and the admin API's list sizes. The one place these
 * facts live: the control services and the settings rules check input against it, the CLI help and
 * the console forms print it, a store test holds the schema's CHECK constraints and column defaults
 * to it, and doc tests hold README.md's tables to it. (Process configuration from the environment
 * has its own table, CONFIG_FIELDS.)
 *
 * This file imports nothing: the web console bundles it, so it must stay free of Node and server code.
 */

/** What a limited value counts. */
export type LimitUnit =
  | 'characters'
  | 'requests'
  | 'ms'
  | 'tokens'
  | 'images'
  | 'US dollars'
  | 'bytes'
  | 'files'
  | 'jobs'
  | 'entries'
  | 'lines'
  | 'minutes'
  | 'models';

/** One operator-set value: its inclusive range, its default and what it means. */
export interface FieldLimit {
  /** Wire names (admin API field or query parameter, error `param`) the limit applies to. */
  readonly fields: readonly string[];
  /** What carries the value, as the docs name it. */
  readonly scope: string;
  readonly min: number;
  /** Number.MAX_SAFE_INTEGER = no upper bound beyond what a JSON number holds exactly. */
  readonly max: number;
  /**
   * The value when none is given; null = no number: the value is required, unlimited when `nullable`,
   * or not a number (a text or list setting's default lives in SETTINGS_DEFAULTS).
   */
  readonly default: number | null;
  readonly unit: LimitUnit;
  /** True when null (the CLI's `unlimited`, an empty console field) turns the limit off. */
  readonly nullable: boolean;
  /** What the value means, as CLI help and the docs say it. */
  readonly description: string;
}

const MiB = 1024 * 1024;
const HOUR_MS = 3_600_000;

/** Every operator-set number, by the name the code uses for it (settings keep their `Settings` key). */
export const FIELD_LIMITS = {
  recordName: {
    fields: ['name'],
    scope: 'key, account, group',
    min: 1,
    max: 128,
    default: null,
    unit: 'characters',
    nullable: false,
    description: 'name, trimmed; no control characters, not shaped like an id',
  },
  keyQuotaTokens: {
    fields: ['quota_tokens'],
    scope: 'key',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: null,
    unit: 'tokens',
    nullable: true,
    description: 'usage tokens this key may spend in its quota period',
  },
  keyQuotaImages: {
    fields: ['quota_images'],
    scope: 'key',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: null,
    unit: 'images',
    nullable: true,
    description: 'images this key may make in its quota period',
  },
  keyQuotaCostUsd: {
    fields: ['quota_cost_usd'],
    scope: 'key',
    min: 0,
    max: 1_000_000_000,
    default: null,
    unit: 'US dollars',
    nullable: true,
    description: 'estimated cost this key may run up in its quota period (up to 6 decimals)',
  },
  keyMaxConcurrency: {
    fields: ['max_concurrency'],
    scope: 'key',
    min: 1,
    max: 1024,
    default: null,
    unit: 'requests',
    nullable: true,
    description: 'most requests in flight at once',
  },
  keyMinStartIntervalMs: {
    fields: ['min_start_interval_ms'],
    scope: 'key',
    min: 0,
    max: 300_000,
    default: null,
    unit: 'ms',
    nullable: true,
    description: 'least time between two request starts',
  },
  keyRotationGraceMs: {
    fields: ['grace_ms'],
    scope: 'key rotation',
    min: 0,
    max: 7 * 24 * HOUR_MS,
    default: 0,
    unit: 'ms',
    nullable: false,
    description: 'how long the replaced secret keeps working',
  },
  accountImageConcurrency: {
    fields: ['image_concurrency'],
    scope: 'account',
    min: 1,
    max: 1024,
    default: 3,
    unit: 'requests',
    nullable: false,
    description: 'most image requests at once on this account',
  },
  modelName: {
    fields: ['alias', 'upstream_model'],
    scope: 'model alias',
    min: 1,
    max: 128,
    default: null,
    unit: 'characters',
    nullable: false,
    description: 'a model name, the `*` of a prefix pattern included',
  },
  codexClientVersion: {
    fields: ['codex_client_version'],
    scope: 'setting',
    min: 1,
    max: 64,
    default: null,
    unit: 'characters',
    nullable: false,
    description: 'version sent upstream as the Codex client version',
  },
  logMaxFileBytes: {
    fields: ['log_max_file_bytes'],
    scope: 'setting',
    min: 1024,
    max: 16 * 1024 * MiB,
    default: 64 * MiB,
    unit: 'bytes',
    nullable: false,
    description: 'request-log file rotates past this size',
  },
  logMaxFileAgeMs: {
    fields: ['log_max_file_age_ms'],
    scope: 'setting',
    min: 1_000,
    max: 7 * 24 * HOUR_MS,
    default: 300_000,
    unit: 'ms',
    nullable: false,
    description: 'request-log file rotates after this age',
  },
  logMaxFiles: {
    fields: ['log_max_files'],
    scope: 'setting',
    min: 1,
    max: 100_000,
    default: 128,
    unit: 'files',
    nullable: false,
    description: 'most request-log files kept',
  },
  // An origin list, not a registry.
  corsAllowedOrigins: {
    fields: ['cors_allowed_origins'],
    scope: 'setting',
    min: 0,
    max: 100,
    default: null,
    unit: 'entries',
    nullable: false,
    description: 'origins allowed to call the public API from a browser',
  },
  responsesHostModel: {
    fields: ['responses_host_model'],
    scope: 'setting',
    min: 1,
    max: 64,
    default: null,
    unit: 'characters',
    nullable: false,
    description: 'chat model that calls the image_generation tool on the Responses path',
  },
  jobMaxQueuedPerKey: {
    fields: ['job_max_queued_per_key'],
    scope: 'setting',
    min: 1,
    max: 10_000,
    default: 20,
    unit: 'jobs',
    nullable: false,
    description: 'most async jobs one key may have waiting to start',
  },
  // A list of models, each with a bounded set of prices (src/pricing/price-table.ts).
  priceTable: {
    fields: ['price_table'],
    scope: 'setting',
    min: 0,
    max: 50,
    default: null,
    unit: 'models',
    nullable: false,
    description: 'models the price table prices (estimated costs)',
  },
  jobListLimit: {
    fields: ['limit'],
    scope: 'GET /admin/api/jobs, `jobs list --limit`',
    min: 1,
    max: 500,
    default: 50,
    unit: 'jobs',
    nullable: false,
    description: 'how many jobs a list returns, newest first',
  },
  activityLimit: {
    fields: ['limit'],
    scope: 'GET /admin/api/activity',
    min: 1,
    max: 2_000,
    default: 200,
    unit: 'lines',
    nullable: false,
    description: 'how many request-log lines a list returns, newest first',
  },
  overviewMinutes: {
    fields: ['minutes'],
    scope: 'GET /admin/api/overview',
    min: 1,
    max: 1_440,
    default: 60,
    unit: 'minutes',
    nullable: false,
    description: 'the Overview window',
  },
} as const satisfies Record<string, FieldLimit>;

/** The name of one limit in FIELD_LIMITS. */
export type FieldLimitName = keyof typeof FIELD_LIMITS;

/** A limit's range as help texts and the docs write it: `1..1024`, or `≥ 0` without an upper bound. */
export function formatLimitRange(limit: FieldLimit): string {
  return limit.max === Number.MAX_SAFE_INTEGER ? `≥ ${limit.min}` : `${limit.min}..${limit.max}`;
}

/** True when `value` is a safe integer within the limit (null is the caller's business). */
/** `^class{min,max}$`: a whole string of `charClass` characters within a length limit. */
export const lengthPattern = (charClass: string, limit: FieldLimit): RegExp => new RegExp(`^${charClass}{${limit.min},${limit.max}}$`);

export function isWithinLimit(value: unknown, limit: FieldLimit): value is number {
  return Number.isSafeInteger(value) && (value as number) >= limit.min && (value as number) <= limit.max;
}

/**
 * The one message for an integer outside its limit, wherever it is checked (services, settings,
 * admin query parameters, the console's own pre-check): `max_concurrency must be an integer between
 * 1 and 1024`, or `quota_tokens must be a non-negative integer` without an upper bound.
 */
export function buildLimitMessage(param: string, limit: FieldLimit): string {
  if (limit.max !== Number.MAX_SAFE_INTEGER) return `${param} must be an integer between ${limit.min} and ${limit.max}`;
  return limit.min === 0 ? `${param} must be a non-negative integer` : `${param} must be an integer of at least ${limit.min}`;
}
