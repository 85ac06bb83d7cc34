import { CONFIG_FIELDS, type ConfigField, type ConfigKey } from './fields.js';

type ValueOf<F extends ConfigField> = F extends { values: readonly (infer V)[] }
  ? V
  : F['kind'] extends 'int'
    ? number
    : F['kind'] extends 'bool'
      ? boolean
      : F['kind'] extends 'list'
        ? string[]
        : F['default'] extends null
          ? string | null
          : string;

/** The typed configuration of one process, derived from CONFIG_FIELDS. */
export type Config = { [K in ConfigKey]: ValueOf<(typeof CONFIG_FIELDS)[K]> };

/** A configuration value that cannot be used; the message names the variable or flag. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

function parseValue(name: string, field: ConfigField, raw: string): unknown {
  switch (field.kind) {
    case 'string':
      if (field.values && !field.values.includes(raw.trim()))
        throw new ConfigError(`${name} must be one of ${field.values.join(', ')}, got ${JSON.stringify(raw)}`);
      return field.values ? raw.trim() : raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'bool': {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
    }
    case 'int': {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
      const n = Number(raw.trim());
      if (field.min !== undefined && n < field.min) throw new ConfigError(`${name} must be at least ${field.min}`);
      if (field.max !== undefined && n > field.max) throw new ConfigError(`${name} must be at most ${field.max}`);
      return n;
    }
  }
}

/**
 * Builds the configuration: flags win over environment variables, which win over defaults.
 * `flags` is keyed by config key (commander's camelCase option names match them).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Partial<Record<ConfigKey, unknown>> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(CONFIG_FIELDS) as [ConfigKey, ConfigField][]) {
    const flagValue = flags[key];
    const envValue = env[field.env];
    if (flagValue !== undefined && flagValue !== null) {
      out[key] = typeof flagValue === 'string' ? parseValue(field.flag ?? field.env, field, flagValue) : flagValue;
    } else if (envValue !== undefined && envValue.trim() !== '') {
      out[key] = parseValue(field.env, field, envValue);
    } else {
      out[key] = Array.isArray(field.default) ? [...field.default] : field.default;
    }
  }
  const config = out as Config;
  if (config.allowedModels.length === 0) throw new ConfigError('ALLOWED_MODELS must name at least one model');
  if (config.publicBaseUrl !== null) config.publicBaseUrl = parsePublicBaseUrl(config.publicBaseUrl);
  if (config.advertiseUrl !== null) config.advertiseUrl = parseBaseUrl(CONFIG_FIELDS.advertiseUrl.env, config.advertiseUrl);
  if (config.resultUrlMode === 'hosted' && config.publicBaseUrl === null) {
    throw new ConfigError('RESULT_URL_MODE=hosted needs PUBLIC_BASE_URL (the public API as clients reach it, e.g. https://images.example.com)');
  }
  return config;
}

/**
 * Checks PUBLIC_BASE_URL: an absolute http(s) URL without credentials, query or fragment (a path is
 * kept, for a gateway published under a prefix). Returned without a trailing slash, so result URLs
 * are `<base>/v1/images/results/<token>`.
 */
export const parsePublicBaseUrl = (value: string): string => parseBaseUrl(CONFIG_FIELDS.publicBaseUrl.env, value);

/**
 * A base URL setting (`name` is its variable, for the message): absolute http(s), no credentials,
 * query or fragment; a path is kept, without its trailing slash.
 */
function parseBaseUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http or https URL`);
  if (url.username || url.password || url.search || url.hash) throw new ConfigError(`${name} must not hold credentials, a query or a fragment`);
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** Splits `HOST:PORT` (IPv6 as `[::1]:PORT`) into parts; throws ConfigError naming the setting. */
export function parseListenAddress(name: string, value: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(value.trim());
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`${name} must be HOST:PORT, got ${JSON.stringify(value)}`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}
