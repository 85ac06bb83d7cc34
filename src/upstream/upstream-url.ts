import { ConfigError } from '../config/config.js';
import { CONFIG_FIELDS } from '../config/fields.js';
import type { UpstreamEndpoint } from './types.js';

/**
 * The path each endpoint is sent to, written as the OpenAI path; `joinUpstreamUrl` drops the `/v1`
 * when the base is the Codex backend (`…/backend-api/codex/images/generations`).
 */
export const UPSTREAM_PATHS = {
  generations: '/v1/images/generations',
  edits: '/v1/images/edits',
  responses: '/v1/responses',
} as const satisfies Record<UpstreamEndpoint, string>;

/** Hosts that need `/backend-api/codex` appended when the operator gives only the origin. */
const CHATGPT_ORIGINS = ['https://chatgpt.com', 'https://chat.openai.com'] as const;

const CODEX_BACKEND_SUFFIX = '/backend-api/codex';

/** The upstream path for an endpoint, before joining with the base. */
export function upstreamPathFor(endpoint: UpstreamEndpoint): (typeof UPSTREAM_PATHS)[UpstreamEndpoint] {
  return UPSTREAM_PATHS[endpoint];
}

const stripTrailingSlashes = (s: string): string => s.replace(/\/+$/, '');

/**
 * Normalises the configured upstream base URL: trims, strips trailing `/`, and appends
 * `/backend-api/codex` to a bare `https://chatgpt.com` or `https://chat.openai.com` base (matched
 * case-insensitively by prefix, as the original did) that lacks `/backend-api`. Blank or missing
 * gives the default from CONFIG_FIELDS. Read once at startup.
 * Stricter than the original: the result must be an absolute http(s) URL, so a typo fails at start
 * instead of on the first request.
 * @throws ConfigError naming CODEX_UPSTREAM_BASE_URL (the value is not echoed: it may hold credentials).
 */
export function normalizeUpstreamBaseUrl(raw: string | null | undefined): string {
  const trimmed = stripTrailingSlashes((raw ?? '').trim());
  if (trimmed === '') return CONFIG_FIELDS.upstreamBaseUrl.default;
  const lower = trimmed.toLowerCase();
  const isChatGpt = CHATGPT_ORIGINS.some((origin) => lower.startsWith(origin));
  const base = isChatGpt && !lower.includes('/backend-api') ? `${trimmed}${CODEX_BACKEND_SUFFIX}` : trimmed;
  assertHttpUrl(base);
  return base;
}

function assertHttpUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${CONFIG_FIELDS.upstreamBaseUrl.env} must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${CONFIG_FIELDS.upstreamBaseUrl.env} must use http or https, got ${url.protocol}`);
  }
}

/**
 * Joins a base URL and an OpenAI-style path: a Codex backend base drops the path's `/v1`
 * (`…/backend-api/codex` + `/v1/images/edits` → `…/backend-api/codex/images/edits`); a base ending in
 * `/v1` does not repeat it; otherwise plain concatenation.
 */
export function joinUpstreamUrl(base: string, path: string): string {
  const trimmedBase = stripTrailingSlashes(base);
  if (trimmedBase.includes(CODEX_BACKEND_SUFFIX) && path.startsWith('/v1/')) {
    return trimmedBase + path.slice('/v1'.length);
  }
  if (trimmedBase.endsWith('/v1') && path.startsWith('/v1')) {
    return trimmedBase.slice(0, -'/v1'.length) + path;
  }
  return trimmedBase + path;
}
