import { FIELD_LIMITS, lengthPattern } from '../config/field-limits.js';
import type { UpstreamRequest } from './types.js';

/**
 * Client request headers copied verbatim to the upstream: Codex feature flags and trace
 * context. Every other client header is dropped: the client's Authorization, cookies, `x-stainless-*`,
 * `x-forwarded-*`, and its User-Agent/originator (a non-Codex UA gets Cloudflare 1010 blocks).
 */
export const UPSTREAM_PASSTHROUGH_HEADERS = [
  'openai-beta',
  'x-openai-subagent',
  'x-codex-beta-features',
  'x-codex-installation-id',
  'traceparent',
  'tracestate',
  'baggage',
] as const;

/** What the Codex CLI sends as `originator`; always sent, never the client's. */
export const CODEX_ORIGINATOR = 'codex_cli_rs';

/**
 * The Codex CLI version the gateway presents as by default (`User-Agent: codex_cli_rs/<version>` and
 * the `version` header); the `codex_client_version` setting overrides it.
 */
export const DEFAULT_CODEX_CLIENT_VERSION = '0.142.0';

/** Shape of a Codex client version: letters, digits, `.`, `-`, `_`, within FIELD_LIMITS.codexClientVersion (it goes into HTTP headers). */
export const CODEX_CLIENT_VERSION_PATTERN = lengthPattern('[A-Za-z0-9._-]', FIELD_LIMITS.codexClientVersion);

/**
 * Normalises the Codex client version sent in `User-Agent` and `version`: trimmed, ASCII letters,
 * digits, `.`, `-`, `_` (CODEX_CLIENT_VERSION_PATTERN); anything else gives
 * DEFAULT_CODEX_CLIENT_VERSION, so a bad setting can never inject header syntax.
 */
export function normalizeCodexClientVersion(version: unknown): string {
  if (typeof version !== 'string') return DEFAULT_CODEX_CLIENT_VERSION;
  const trimmed = version.trim();
  return CODEX_CLIENT_VERSION_PATTERN.test(trimmed) ? trimmed : DEFAULT_CODEX_CLIENT_VERSION;
}

const PASSTHROUGH: ReadonlySet<string> = new Set(UPSTREAM_PASSTHROUGH_HEADERS);

/**
 * The allowlisted headers of a client header map, matched case-insensitively in one pass over it (the
 * first spelling of a name with a value wins); repeated values are joined with `, ` (RFC 9110); a
 * header whose value is empty is not sent.
 */
function pickPassthroughHeaders(headers: UpstreamRequest['clientHeaders']): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const key in headers) {
    const name = key.toLowerCase();
    const value = headers[key];
    if (!PASSTHROUGH.has(name) || value === undefined || Object.hasOwn(picked, name)) continue;
    picked[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  for (const name in picked) if (picked[name] === '') delete picked[name];
  return picked;
}

/**
 * Builds the complete upstream header set for one attempt, looking like the
 * Codex CLI: bearer token, JSON accept/content type, exact content length, `User-Agent:
 * codex_cli_rs/<version>`, `originator: codex_cli_rs`, `version`, `chatgpt-account-id` when known,
 * `x-openai-fedramp: true` for FedRAMP accounts, then the allowlisted client headers. Nothing else.
 * Names are lower-case, as the Codex CLI's HTTP stack (hyper) writes them.
 */
export function buildUpstreamHeaders(req: UpstreamRequest, contentLength: number): Record<string, string> {
  const version = normalizeCodexClientVersion(req.codexClientVersion);
  return {
    ...pickPassthroughHeaders(req.clientHeaders),
    authorization: `Bearer ${req.accessToken}`,
    // The Responses API answers as a stream of events.
    accept: req.endpoint === 'responses' ? 'text/event-stream' : 'application/json',
    'content-type': 'application/json',
    'content-length': String(contentLength),
    'user-agent': `${CODEX_ORIGINATOR}/${version}`,
    originator: CODEX_ORIGINATOR,
    version,
    ...(req.chatgptAccountId ? { 'chatgpt-account-id': req.chatgptAccountId } : {}),
    ...(req.fedramp ? { 'x-openai-fedramp': 'true' } : {}),
  };
}
