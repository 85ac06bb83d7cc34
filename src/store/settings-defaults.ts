import { buildLimitMessage, FIELD_LIMITS, isWithinLimit, lengthPattern, type FieldLimit } from '../config/field-limits.js';
import { FIELD_POLICY_MODES, N_MODES } from '../images/field-policy.js';
import { isValidUpstreamModel } from '../images/model-aliases.js';
import { DEFAULT_PRICE_TABLE, parsePriceTable, type PriceTable } from '../pricing/price-table.js';
import { CODEX_CLIENT_VERSION_PATTERN, DEFAULT_CODEX_CLIENT_VERSION } from '../upstream/upstream-headers.js';
import { DEFAULT_BUDGET_TIME_ZONE, isKnownTimeZone } from '../limits/budget-period.js';
import { CORS_ANY_ORIGIN, parseCorsOrigin } from './cors-origin.js';
import type { Settings } from './types.js';

/**
 * Default runtime settings: the one place they live (the numeric ones come from FIELD_LIMITS, with
 * their bounds). The `settings` table holds only the values an operator changed; everything else
 * reads from here.
 */
export const SETTINGS_DEFAULTS = {
  /** Version sent upstream in `User-Agent: codex_cli_rs/<version>` and `version:` headers. */
  codexClientVersion: DEFAULT_CODEX_CLIENT_VERSION,
  /** Request-log file rotates past this size. */
  logMaxFileBytes: FIELD_LIMITS.logMaxFileBytes.default,
  /** Request-log file rotates after this age. */
  logMaxFileAgeMs: FIELD_LIMITS.logMaxFileAgeMs.default,
  /** Most request-log files kept. */
  logMaxFiles: FIELD_LIMITS.logMaxFiles.default,
  /** Origins allowed to call the public API from a browser (CORS); empty = CORS off. */
  corsAllowedOrigins: [],
  /** `lenient`: drop and map what the gateway cannot honour (named in a header); `strict`: refuse it (400). */
  fieldPolicy: 'lenient',
  /** `fanout`: `n > 1` becomes n one-image upstream calls; `passthrough`: `n` is forwarded as sent. */
  nMode: 'fanout',
  /** Model mapping: unknown model names get the default model (false) or a 400 (true). */
  modelAliasesStrict: false,
  /** The chat model that calls the image_generation tool on the Responses path (partial images). */
  responsesHostModel: 'gpt-5.4-mini',
  /** Serve a plain request through the Responses path when the images endpoint is unavailable for an account. */
  responsesFallback: false,
  /** Most async jobs one key may have waiting to start (429 `job_queue_full` past it). */
  jobMaxQueuedPerKey: FIELD_LIMITS.jobMaxQueuedPerKey.default,
  /** Keys' daily, weekly and monthly budgets reset at midnight here (an IANA zone name). */
  budgetTimeZone: DEFAULT_BUDGET_TIME_ZONE,
  /** Public per-image and per-token prices of the GPT image models (estimates). */
  priceTable: DEFAULT_PRICE_TABLE,
} as const satisfies Settings;

/** Shape of a host model name: letters, digits, `.`, `_`, `:`, `-` (it goes into the upstream JSON body). */
export const HOST_MODEL_PATTERN = lengthPattern('[A-Za-z0-9._:-]', FIELD_LIMITS.responsesHostModel);

/** "<min> to <max> characters" for a length limit, as the text settings' messages say it. */
const describeLength = (limit: FieldLimit): string => `${limit.min} to ${limit.max} characters`;

/** Names of every setting, for iterating. */
export const SETTING_NAMES = Object.keys(SETTINGS_DEFAULTS) as Array<keyof Settings>;

/** Wire names (admin API, error `param`) of each setting. */
export const SETTING_PARAMS = {
  codexClientVersion: 'codex_client_version',
  logMaxFileBytes: 'log_max_file_bytes',
  logMaxFileAgeMs: 'log_max_file_age_ms',
  logMaxFiles: 'log_max_files',
  corsAllowedOrigins: 'cors_allowed_origins',
  fieldPolicy: 'field_policy',
  nMode: 'n_mode',
  modelAliasesStrict: 'model_aliases_strict',
  responsesHostModel: 'responses_host_model',
  responsesFallback: 'responses_fallback',
  jobMaxQueuedPerKey: 'job_max_queued_per_key',
  budgetTimeZone: 'budget_time_zone',
  priceTable: 'price_table',
} as const satisfies Record<keyof Settings, string>;

/**
 * Outcome of checking one setting value: the normalised value, or a message naming the setting (and,
 * for a structured value, `param`: the path of the bad part, such as `price_table[0].tokens.text`).
 */
export type SettingCheck<T> = { ok: true; value: T } | { ok: false; message: string; param?: string };

/** Checks one untrusted value of a setting; `param` (the wire name) starts every message. */
export type SettingRule<T> = (value: unknown, param: string) => SettingCheck<T>;

/** A string that matches `pattern` once trimmed; `describe` completes "<param> must be …". */
export const textSetting =
  (pattern: RegExp, describe: string): SettingRule<string> =>
  (value, param) => {
    const text = typeof value === 'string' ? value.trim() : '';
    return pattern.test(text) ? { ok: true, value: text } : { ok: false, message: `${param} must be ${describe}` };
  };

/** A safe integer within a FIELD_LIMITS entry. */
export const integerSetting =
  (limit: FieldLimit): SettingRule<number> =>
  (value, param) =>
    isWithinLimit(value, limit) ? { ok: true, value } : { ok: false, message: buildLimitMessage(param, limit) };

/**
 * A JSON array of at most `maxItems` strings, each normalised by `parseItem` (null = refused;
 * `describeItem` completes "<param>[i] must be …"). Duplicates after normalisation are dropped,
 * first one kept.
 */
export const listSetting =
  (opts: { maxItems: number; describeItem: string; parseItem: (item: string) => string | null }): SettingRule<readonly string[]> =>
  (value, param) => {
    if (!Array.isArray(value) || value.length > opts.maxItems) {
      return { ok: false, message: `${param} must be a list of at most ${opts.maxItems} entries` };
    }
    const items: string[] = [];
    for (const [i, item] of value.entries()) {
      const parsed = typeof item === 'string' ? opts.parseItem(item) : null;
      if (parsed === null) return { ok: false, message: `${param}[${i}] must be ${opts.describeItem}` };
      if (!items.includes(parsed)) items.push(parsed);
    }
    return { ok: true, value: items };
  };

/** `true` or `false`, as JSON booleans. */
export const booleanSetting: SettingRule<boolean> = (value, param) =>
  typeof value === 'boolean' ? { ok: true, value } : { ok: false, message: `${param} must be true or false` };

/** One of a fixed list of strings. */
export const choiceSetting =
  <T extends string>(choices: readonly T[]): SettingRule<T> =>
  (value, param) =>
    typeof value === 'string' && (choices as readonly string[]).includes(value)
      ? { ok: true, value: value as T }
      : { ok: false, message: `${param} must be one of: ${choices.join(', ')}` };

const originList = listSetting({
  maxItems: FIELD_LIMITS.corsAllowedOrigins.max,
  describeItem: `an origin: http(s)://host[:port], no path (for example https://app.example.com), or '${CORS_ANY_ORIGIN}' alone`,
  parseItem: (item) => (item.trim() === CORS_ANY_ORIGIN ? CORS_ANY_ORIGIN : parseCorsOrigin(item)),
});

/** Allowed CORS origins: exact origins, or `*` as the only entry (`[]` turns CORS off). */
const corsOriginsSetting: SettingRule<readonly string[]> = (value, param) => {
  const checked = originList(value, param);
  if (checked.ok && checked.value.length > 1 && checked.value.includes(CORS_ANY_ORIGIN)) {
    return { ok: false, message: `${param}: '${CORS_ANY_ORIGIN}' must be the only entry when given` };
  }
  return checked;
};

/** An IANA time zone name this runtime knows (`UTC`, `Europe/Berlin`, `America/New_York`). */
const timeZoneSetting: SettingRule<string> = (value, param) => {
  const name = typeof value === 'string' ? value.trim() : '';
  return name.length > 0 && name.length <= 64 && isKnownTimeZone(name)
    ? { ok: true, value: name }
    : { ok: false, message: `${param} must be an IANA time zone name such as UTC or Europe/Berlin` };
};

/** The price table: strict, bounded by FIELD_LIMITS.priceTable; a refusal names the bad value's path. */
const priceTableSetting: SettingRule<PriceTable> = (value, param) => {
  const checked = parsePriceTable(value, param, { maxModels: FIELD_LIMITS.priceTable.max, isModelName: isValidUpstreamModel });
  return checked.ok ? checked : { ok: false, message: checked.message, param: checked.path };
};

/** How each setting is checked, whether submitted through the admin API or read back from the table. */
export const SETTING_RULES = {
  codexClientVersion: textSetting(CODEX_CLIENT_VERSION_PATTERN, `${describeLength(FIELD_LIMITS.codexClientVersion)} of letters, digits, '.', '_' or '-'`),
  logMaxFileBytes: integerSetting(FIELD_LIMITS.logMaxFileBytes),
  logMaxFileAgeMs: integerSetting(FIELD_LIMITS.logMaxFileAgeMs),
  logMaxFiles: integerSetting(FIELD_LIMITS.logMaxFiles),
  corsAllowedOrigins: corsOriginsSetting,
  fieldPolicy: choiceSetting(FIELD_POLICY_MODES),
  nMode: choiceSetting(N_MODES),
  modelAliasesStrict: booleanSetting,
  responsesHostModel: textSetting(HOST_MODEL_PATTERN, `${describeLength(FIELD_LIMITS.responsesHostModel)} of letters, digits, '.', '_', ':' or '-'`),
  responsesFallback: booleanSetting,
  jobMaxQueuedPerKey: integerSetting(FIELD_LIMITS.jobMaxQueuedPerKey),
  budgetTimeZone: timeZoneSetting,
  priceTable: priceTableSetting,
} as const satisfies { [K in keyof Settings]: SettingRule<Settings[K]> };

/**
 * Checks one stored or submitted setting value through SETTING_RULES; returns the normalised value
 * or an error message (the caller decides whether that is a 400 or a fallback to the default).
 */
export function checkSettingValue<K extends keyof Settings>(name: K, value: unknown): SettingCheck<Settings[K]> {
  const rule = SETTING_RULES[name] as SettingRule<Settings[K]>;
  return rule(value, SETTING_PARAMS[name]);
}
