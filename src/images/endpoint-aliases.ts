import type { ImageEndpoint } from './image-request.js';

/**
 * The eight public paths and the endpoint each one serves. The only place the
 * public path set lives: the HTTP layer registers routes from it and tests iterate it.
 */
export const ENDPOINT_ALIASES = {
  '/v1/images/generations': 'generations',
  '/api/codex-gateway/images/generations': 'generations',
  '/api/codex-gateway/v1/images/generations': 'generations',
  '/api/llm-gateway/v1/images/generations': 'generations',
  '/v1/images/edits': 'edits',
  '/api/codex-gateway/images/edits': 'edits',
  '/api/codex-gateway/v1/images/edits': 'edits',
  '/api/llm-gateway/v1/images/edits': 'edits',
} as const satisfies Record<string, ImageEndpoint>;

/** One of the accepted public paths. */
export type PublicImagePath = keyof typeof ENDPOINT_ALIASES;

/**
 * Maps a public path to its endpoint. Exact match only: case-sensitive, no trailing slash.
 * The caller strips the query string first (`/v1/images/edits?x=1` is not a path here).
 */
export function resolveEndpoint(path: string): ImageEndpoint | undefined {
  return Object.hasOwn(ENDPOINT_ALIASES, path) ? ENDPOINT_ALIASES[path as PublicImagePath] : undefined;
}

/**
 * The four API bases every public path hangs under: each image path above is one of these plus
 * `/images/generations` or `/images/edits` (a test holds the two tables together), and the model
 * list is each plus `/models`.
 */
export const PUBLIC_API_BASES = ['/v1', '/api/codex-gateway', '/api/codex-gateway/v1', '/api/llm-gateway/v1'] as const;

/** The model-list paths (`GET`); `<path>/<model id>` retrieves one model. */
export const MODELS_PATHS: readonly string[] = PUBLIC_API_BASES.map((base) => `${base}/models`);

/** The hosted-result paths (`GET <path>/{token}`, RESULT_URL_MODE=hosted), one under each API base. */
export const RESULTS_PATHS: readonly string[] = PUBLIC_API_BASES.map((base) => `${base}/images/results`);

/** The results path hosted URLs are built with (`<PUBLIC_BASE_URL><path>/<token>`). */
export const HOSTED_RESULT_URL_PATH = '/v1/images/results';
