/**
 * Test helpers that build Codex-looking credentials: well-formed RS256-shaped
 * JWTs (header.payload.signature, base64url, no padding) with the ChatGPT claims, and Codex CLI
 * auth.json objects. The signature is filler: nothing in the gateway or the fake upstream verifies it.
 */
import { createHash } from 'node:crypto';

/** The claim namespace Codex reads the account id and plan from. */
export const CODEX_AUTH_CLAIM = 'https://api.openai.com/auth';
/** The claim namespace holding the profile (email). */
export const CODEX_PROFILE_CLAIM = 'https://api.openai.com/profile';

export interface CodexJwtOptions {
  /** `chatgpt_account_id` claim; null leaves the claim out. */
  accountId: string | null;
  /** `chatgpt_plan_type` claim; default 'plus'. */
  planType?: string;
  /** Default `<accountId>@example.com`. */
  email?: string;
  /** Absolute `exp` in epoch seconds; default now + 1 h. null leaves `exp` out. */
  expSeconds?: number | null;
  /** Extra top-level claims, merged last. */
  extra?: Record<string, unknown>;
}

const base64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** A 256-byte filler signature derived from the payload, so two different tokens never share one. */
function fakeSignature(payload: string): string {
  const parts: Buffer[] = [];
  for (let i = 0; i < 8; i += 1) parts.push(createHash('sha256').update(`${i}:${payload}`).digest());
  return base64url(Buffer.concat(parts));
}

/** Builds an unsigned-but-well-formed Codex access/id token carrying the ChatGPT claims. */
export function makeCodexJwt(opts: CodexJwtOptions): string {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const email = opts.email ?? `${opts.accountId ?? 'user'}@example.com`;
  const auth: Record<string, unknown> = {
    chatgpt_plan_type: opts.planType ?? 'plus',
    chatgpt_user_id: `user-${opts.accountId ?? 'anonymous'}`,
    user_id: `user-${opts.accountId ?? 'anonymous'}`,
  };
  if (opts.accountId !== null) auth.chatgpt_account_id = opts.accountId;
  const exp = opts.expSeconds === undefined ? nowSeconds + 3600 : opts.expSeconds;
  const payload = {
    ...(exp === null ? {} : { exp }),
    iat: nowSeconds,
    email,
    [CODEX_PROFILE_CLAIM]: { email },
    [CODEX_AUTH_CLAIM]: auth,
    ...opts.extra,
  };
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'fake-codex-key' }));
  const body = base64url(JSON.stringify(payload));
  return `${header}.${body}.${fakeSignature(body)}`;
}

export interface CodexAuthJsonOptions extends CodexJwtOptions {
  /** Default `rt_<accountId>_<random>`. */
  refreshToken?: string;
  /** ISO time of the last refresh; default now. */
  lastRefresh?: string;
  /** Put `tokens.account_id` in the file (old Python-era files lack it); default true. */
  includeAccountId?: boolean;
}

/** The Codex CLI auth.json layout. */
export interface CodexAuthJson {
  auth_mode: 'chatgpt';
  OPENAI_API_KEY: null;
  tokens: { id_token: string; access_token: string; refresh_token: string; account_id?: string };
  last_refresh: string;
}

/** Builds a Codex CLI auth.json object whose id and access tokens carry the same claims. */
export function makeCodexAuthJson(opts: CodexAuthJsonOptions): CodexAuthJson {
  const random = createHash('sha256').update(`${Math.random()}:${Date.now()}`).digest('hex').slice(0, 24);
  const tokens: CodexAuthJson['tokens'] = {
    id_token: makeCodexJwt(opts),
    access_token: makeCodexJwt({ ...opts, extra: { ...opts.extra, scp: ['openid', 'profile', 'email'] } }),
    refresh_token: opts.refreshToken ?? `rt_${opts.accountId ?? 'user'}_${random}`,
  };
  if ((opts.includeAccountId ?? true) && opts.accountId !== null) tokens.account_id = opts.accountId;
  return {
    auth_mode: 'chatgpt',
    OPENAI_API_KEY: null,
    tokens,
    last_refresh: opts.lastRefresh ?? new Date().toISOString(),
  };
}
