import { request } from 'undici';
import { isJsonObject } from '../guards/is-json-object.js';
import type { DispatcherPool } from './dispatcher-pool.js';
import { isTimeoutError, isTransportError } from './upstream-failures.js';

/** The Codex CLI's OAuth client id. */
export const CODEX_OAUTH_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

/** Error codes with which the token endpoint refuses a refresh token for good. */
export const PERMANENT_REFRESH_CODES = ['refresh_token_expired', 'refresh_token_reused', 'refresh_token_invalidated'] as const;

/** Most bytes of a token-endpoint answer read (a real one is a few KiB of JWTs). */
const MAX_TOKEN_RESPONSE_BYTES = 256 * 1024;

/** New tokens from a refresh; each may be absent (keep the old value then). Secrets: never log. */
export interface RefreshedTokens {
  accessToken: string | null;
  refreshToken: string | null;
  idToken: string | null;
}

/**
 * How a refresh ended. `reason` is safe to show and store (a code or a status, never token text):
 * `permanent` = the refresh token is dead (re-import needed); `transient` = try again later.
 */
export type RefreshResult = { kind: 'ok'; tokens: RefreshedTokens } | { kind: 'permanent'; reason: string } | { kind: 'transient'; reason: string };

/** Runs the Codex OAuth refresh grant. Never retries: the refresher owns backoff and locking. */
export interface CodexOAuthClient {
  refresh(refreshToken: string, proxyUrl: string | null): Promise<RefreshResult>;
}

/** Where the token endpoint is and how requests leave (checked at construction). */
export interface CodexOAuthClientOptions {
  /** `CODEX_OAUTH_TOKEN_URL`. */
  tokenUrl: string;
  /** The same pool the account's image requests use, so a refresh leaves through the account's proxy. */
  pool: DispatcherPool;
  /** Whole-call limit. Default 30 s. */
  timeoutMs?: number;
}

const stringOrNull = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/** The error code in a token-endpoint body: `error.code`, a string `error`, or a top-level `code`. */
function readErrorCode(json: unknown): string | null {
  if (!isJsonObject(json)) return null;
  if (isJsonObject(json.error)) return stringOrNull(json.error.code);
  return stringOrNull(json.error) ?? stringOrNull(json.code);
}

/**
 * Classifies a token-endpoint answer (pure). 2xx with a JSON object → ok (fields optional); a
 * permanent code in the body, or a 401 → permanent; 5xx, 408, 429 → transient; any other answer is
 * treated as transient too (unknown, so the account is not condemned on a guess).
 */
export function classifyRefreshResponse(status: number, text: string): RefreshResult {
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: judged by status alone.
  }
  if (status >= 200 && status < 300) {
    if (!isJsonObject(json)) return { kind: 'transient', reason: 'token endpoint answered without a JSON object' };
    return {
      kind: 'ok',
      tokens: { accessToken: stringOrNull(json.access_token), refreshToken: stringOrNull(json.refresh_token), idToken: stringOrNull(json.id_token) },
    };
  }
  const code = readErrorCode(json);
  if (code !== null && (PERMANENT_REFRESH_CODES as readonly string[]).includes(code)) return { kind: 'permanent', reason: code };
  if (status === 401) return { kind: 'permanent', reason: `token endpoint answered 401${code ? ` (${sanitizeCode(code)})` : ''}` };
  return { kind: 'transient', reason: `token endpoint answered ${status}${code ? ` (${sanitizeCode(code)})` : ''}` };
}

/** Codes are shown to operators: keep them short identifiers, nothing that could be a token. */
const sanitizeCode = (code: string): string => (/^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : 'unrecognised code');

/** Creates the OAuth client (POST JSON grant, through the account's dispatcher). */
export function createCodexOAuthClient(opts: CodexOAuthClientOptions): CodexOAuthClient {
  const url = new URL(opts.tokenUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError('CODEX_OAUTH_TOKEN_URL must be http(s)');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return {
    async refresh(refreshToken, proxyUrl) {
      try {
        const res = await request(url, {
          method: 'POST',
          dispatcher: opts.pool.get(proxyUrl),
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ client_id: CODEX_OAUTH_CLIENT_ID, grant_type: 'refresh_token', refresh_token: refreshToken }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        return classifyRefreshResponse(res.statusCode, await readBoundedText(res.body));
      } catch (err) {
        return { kind: 'transient', reason: describeTransportFailure(err) };
      }
    },
  };
}

async function readBoundedText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > MAX_TOKEN_RESPONSE_BYTES) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A failure in words, by error code only (messages could echo a proxy URL). */
function describeTransportFailure(err: unknown): string {
  const code = isJsonObject(err) && typeof err.code === 'string' ? err.code : null;
  if (code === 'INVALID_PROXY_URL') return 'account proxy URL is invalid';
  if (isTimeoutError(err) || (isJsonObject(err) && err.name === 'TimeoutError')) return 'token endpoint timed out';
  if (isTransportError(err)) return `network error reaching the token endpoint (${code ?? 'unknown'})`;
  return `token endpoint request failed (${code ?? 'unknown error'})`;
}
