import type { Settings } from './types.js';

const MiB = 1024 * 1024;

/**
 * Default runtime settings: the one place they live. The `settings` table holds only the values an
 * operator changed; everything else reads from here.
 */
export const SETTINGS_DEFAULTS = {
  /** Version sent upstream in `User-Agent: codex_cli_rs/<version>` and `version:` headers. */
  codexClientVersion: '0.142.0',
  /** Request-log file rotates past this size. */
  logMaxFileBytes: 64 * MiB,
  /** Request-log file rotates after this age. */
  logMaxFileAgeMs: 300_000,
  /** Most request-log files kept. */
  logMaxFiles: 128,
  /** Model mapping: unknown model names get the default model (false) or a 400 (true). */
  modelAliasesStrict: false,
} as const satisfies Settings;

/** Bounds of the integer settings (inclusive). */
export const SETTINGS_INTEGER_BOUNDS = {
  logMaxFileBytes: { min: 1024, max: 16 * 1024 * MiB },
  logMaxFileAgeMs: { min: 1_000, max: 7 * 24 * 3_600_000 },
  logMaxFiles: { min: 1, max: 100_000 },
} as const satisfies Partial<Record<keyof Settings, { min: number; max: number }>>;

/** Shape of the Codex client version: 1..64 characters of [A-Za-z0-9._-] (it goes into an HTTP header). */
export const CODEX_CLIENT_VERSION_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Names of every setting, for iterating. */
export const SETTING_NAMES = Object.keys(SETTINGS_DEFAULTS) as Array<keyof Settings>;

/** Wire names (admin API, error `param`) of each setting. */
export const SETTING_PARAMS = {
  codexClientVersion: 'codex_client_version',
  logMaxFileBytes: 'log_max_file_bytes',
  logMaxFileAgeMs: 'log_max_file_age_ms',
  logMaxFiles: 'log_max_files',
  modelAliasesStrict: 'model_aliases_strict',
} as const satisfies Record<keyof Settings, string>;

/**
 * Checks one stored or submitted setting value; returns the normalised value or an error message
 * (the caller decides whether that is a 400 or a fallback to the default).
 */
export function checkSettingValue<K extends keyof Settings>(name: K, value: unknown): { ok: true; value: Settings[K] } | { ok: false; message: string } {
  const param = SETTING_PARAMS[name];
  if (name === 'codexClientVersion') {
    const text = typeof value === 'string' ? value.trim() : '';
    return CODEX_CLIENT_VERSION_PATTERN.test(text)
      ? { ok: true, value: text as Settings[K] }
      : { ok: false, message: `${param} must be 1 to 64 characters of letters, digits, '.', '_' or '-'` };
  }
  // A setting whose default is a boolean takes exactly true or false (no "yes", no 1).
  if (typeof SETTINGS_DEFAULTS[name] === 'boolean') {
    return typeof value === 'boolean' ? { ok: true, value: value as Settings[K] } : { ok: false, message: `${param} must be true or false` };
  }
  const bounds = SETTINGS_INTEGER_BOUNDS[name as keyof typeof SETTINGS_INTEGER_BOUNDS];
  return Number.isSafeInteger(value) && (value as number) >= bounds.min && (value as number) <= bounds.max
    ? { ok: true, value: value as Settings[K] }
    : { ok: false, message: `${param} must be an integer between ${bounds.min} and ${bounds.max}` };
}
