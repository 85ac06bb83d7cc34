import { isJsonObject } from '../guards/is-json-object.js';
import type { RefreshedTokens } from './codex-oauth-client.js';

/** Where each token lives in an auth JSON: Codex CLI's `tokens.*`, else flat snake_case, else flat camelCase. */
const TOKEN_KEYS = {
  accessToken: ['access_token', 'accessToken'],
  refreshToken: ['refresh_token', 'refreshToken'],
  idToken: ['id_token', 'idToken'],
} as const satisfies Record<keyof RefreshedTokens, readonly [string, string]>;

/**
 * The stored auth JSON after a refresh (pure; the input is not changed): each token the response
 * carried replaces the old one where the document kept it (a Codex CLI file's `tokens` object, or the
 * flat key it used), tokens the response omitted keep their old values, and
 * `last_refresh` becomes `nowMs` as an ISO time, as Codex CLI writes it.
 */
export function buildRefreshedAuthDocument(document: Record<string, unknown>, tokens: RefreshedTokens, nowMs: number): Record<string, unknown> {
  const nested = isJsonObject(document.tokens);
  const target: Record<string, unknown> = nested ? { ...(document.tokens as Record<string, unknown>) } : { ...document };
  for (const field of Object.keys(TOKEN_KEYS) as Array<keyof RefreshedTokens>) {
    const value = tokens[field];
    if (value === null) continue;
    const [snake, camel] = TOKEN_KEYS[field];
    const key = !Object.hasOwn(target, snake) && Object.hasOwn(target, camel) ? camel : snake;
    target[key] = value;
  }
  const lastRefresh = new Date(nowMs).toISOString();
  return nested ? { ...document, tokens: target, last_refresh: lastRefresh } : { ...target, last_refresh: lastRefresh };
}
