/**
 * The wire contract the fake Codex upstream enforces: a bearer JWT whose
 * `https://api.openai.com/auth`.chatgpt_account_id claim names the account, not expired; a matching
 * ChatGPT-Account-ID header when one is sent; a Codex CLI identity (User-Agent/originator); a JSON
 * body with `prompt` and `model`; for edits, `images` as `[{image_url}]` objects. Each violation
 * yields the status and body the real backend (or Cloudflare in front of it) would answer. The
 * `/responses` body is checked by responses-body.ts with the helpers exported here.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The direct image endpoints. */
export type FakeImagesEndpoint = 'generations' | 'edits';
/** Every endpoint the fake serves: the image endpoints and the Responses API. */
export type FakeEndpoint = FakeImagesEndpoint | 'responses';

/** What the bearer token says; `tokenHash` (sha256 hex, 16 chars) lets tests compare tokens without storing them. */
export interface TokenInfo {
  accountId: string | null;
  expSeconds: number | null;
  planType: string | null;
  tokenHash: string;
}

/** A request image, reduced to what tests may see: never its data. */
export interface RecordedImage {
  kind: 'data_url' | 'url' | 'invalid';
  /** MIME type of a data URL. */
  mime: string | null;
  /** Decoded bytes of a data URL; characters of an http(s) URL. */
  bytes: number;
}

/**
 * The request body as recorded. Image endpoints: every field but `images`/`mask`, which are
 * summarised. `/responses` (see responses-body.ts): every top-level field but `input` and `tools`;
 * `images` are the `input_image` parts, `mask` the tool's `input_image_mask`, `promptSha256` hashes
 * the `input_text` parts (joined by a newline), and `tool`/`toolTypes` are set.
 */
export interface RecordedBody {
  fields: Record<string, unknown>;
  promptSha256: string | null;
  images: RecordedImage[] | null;
  mask: RecordedImage | null;
  /** `/responses` only: the `image_generation` tool's options without `input_image_mask`; null without that tool. */
  tool?: Record<string, unknown> | null;
  /** `/responses` only: the `type` of every entry of `tools`, in order. */
  toolTypes?: string[];
}

export interface WireFailure {
  status: number;
  body: unknown;
  contentType?: string;
}

/** Hex sha256 of a string (prompt hashes). */
export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const headerValue = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

const authError = (message: string, code: string | null): WireFailure => ({
  status: 401,
  body: { error: { message, type: 'invalid_request_error', param: null, code } },
});

/** Decodes a bearer token's JWT payload without verifying it; null when there is no bearer or it is not a JWT. */
export function readBearerToken(headers: IncomingHttpHeaders): TokenInfo | null {
  const match = /^Bearer (\S+)$/.exec(headerValue(headers, 'authorization') ?? '');
  const token = match?.[1];
  if (!token) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null) return null;
  const claims = payload as Record<string, unknown>;
  const auth = (claims['https://api.openai.com/auth'] ?? {}) as Record<string, unknown>;
  return {
    accountId: typeof auth.chatgpt_account_id === 'string' ? auth.chatgpt_account_id : null,
    expSeconds: typeof claims.exp === 'number' ? claims.exp : null,
    planType: typeof auth.chatgpt_plan_type === 'string' ? auth.chatgpt_plan_type : null,
    tokenHash: sha256(token).slice(0, 16),
  };
}

/** Checks the bearer token and the ChatGPT-Account-ID header; null when they are acceptable. */
export function checkAuth(headers: IncomingHttpHeaders, token: TokenInfo | null, nowMs: number): WireFailure | null {
  if (!/^Bearer \S/.test(headerValue(headers, 'authorization') ?? '')) {
    return authError('Missing bearer or basic authentication in header', null);
  }
  if (!token) return authError('Could not parse your authentication token. Please try signing in again.', 'invalid_jwt');
  if (token.expSeconds !== null && token.expSeconds * 1000 <= nowMs) {
    return authError('Your authentication token has expired. Please try signing in again.', 'token_expired');
  }
  if (!token.accountId) return authError('Your authentication token is missing a ChatGPT account.', 'invalid_jwt');
  const accountHeader = headerValue(headers, 'chatgpt-account-id');
  if (accountHeader !== undefined && accountHeader !== token.accountId) {
    return authError('ChatGPT-Account-ID does not match the authentication token.', 'account_mismatch');
  }
  return null;
}

/** Cloudflare answers non-Codex clients with 1010; checked only when the fake is strict. */
export function checkIdentity(headers: IncomingHttpHeaders): WireFailure | null {
  const ua = headerValue(headers, 'user-agent') ?? '';
  const originator = headerValue(headers, 'originator') ?? '';
  if (ua.startsWith('codex_cli_rs/') && originator === 'codex_cli_rs') return null;
  return { status: 403, body: 'error code: 1010', contentType: 'text/plain; charset=utf-8' };
}

/** A 400 in the FastAPI `{"detail": text}` style the backend uses for malformed bodies. */
export const detail = (text: string): WireFailure => ({ status: 400, body: { detail: text } });

/** Summarises one `{image_url}` element (or `input_image` part), or says what is wrong with it. */
export function summarizeImage(value: unknown, param: string): RecordedImage | WireFailure {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return detail(`${param}: expected object`);
  const url = (value as { image_url?: unknown }).image_url;
  if (typeof url !== 'string') return detail(`${param}.image_url: field required`);
  if (/^https?:\/\//i.test(url)) return { kind: 'url', mime: null, bytes: url.length };
  const dataUrl = /^data:([\w.+-]+\/[\w.+-]+);base64,([A-Za-z0-9+/]*={0,2})$/.exec(url);
  if (!dataUrl?.[1] || dataUrl[2] === undefined) return detail(`${param}.image_url: invalid image URL`);
  return { kind: 'data_url', mime: dataUrl[1], bytes: Buffer.byteLength(dataUrl[2], 'base64') };
}

/** True when a summary is a failure instead. */
export const isFailure = (v: RecordedImage | WireFailure): v is WireFailure => 'status' in v;

function summarizeImages(value: unknown): RecordedImage[] | WireFailure {
  if (!Array.isArray(value) || value.length === 0) return detail('images: expected a non-empty array');
  const out: RecordedImage[] = [];
  for (const [i, item] of value.entries()) {
    const summary = summarizeImage(item, `images[${i}]`);
    if (isFailure(summary)) return summary;
    out.push(summary);
  }
  return out;
}

function checkFields(endpoint: FakeImagesEndpoint, fields: Record<string, unknown>): WireFailure | null {
  if (typeof fields.prompt !== 'string' || fields.prompt === '') return detail('prompt: field required');
  if (typeof fields.model !== 'string' || fields.model === '') return detail('model: field required');
  const n = fields.n;
  if (n !== undefined && (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 10)) {
    return detail('n: expected an integer from 1 to 10');
  }
  if (endpoint === 'generations' && fields.images !== undefined) return detail('images: not allowed on generations');
  return null;
}

/** A JSON body as the backend reads it: JSON content type, valid JSON, an object; else the first violation. */
export function parseJsonObjectBody(contentType: string | undefined, raw: Buffer): { json: Record<string, unknown> } | { failure: WireFailure } {
  if (!/^application\/json\b/i.test(contentType ?? '')) return { failure: detail('Content-Type must be application/json') };
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return { failure: detail('Invalid JSON body') };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { failure: detail('body must be a JSON object') };
  return { json: json as Record<string, unknown> };
}

/**
 * Parses and checks a request body. Returns the recorded summary (when the body is a JSON object) and
 * the first violation, if any.
 */
export function checkBody(
  endpoint: FakeImagesEndpoint,
  contentType: string | undefined,
  raw: Buffer,
): { body: RecordedBody | null; failure: WireFailure | null } {
  const parsed = parseJsonObjectBody(contentType, raw);
  if ('failure' in parsed) return { body: null, failure: parsed.failure };
  const { json } = parsed;
  const { images, mask, ...fields } = json;
  const imageSummary = endpoint === 'edits' ? summarizeImages(images) : null;
  const maskSummary = mask === undefined ? null : summarizeImage(mask, 'mask');
  const body: RecordedBody = {
    fields,
    promptSha256: typeof fields.prompt === 'string' ? sha256(fields.prompt) : null,
    images: Array.isArray(imageSummary) ? imageSummary : null,
    mask: maskSummary && !isFailure(maskSummary) ? maskSummary : null,
  };
  const failure =
    checkFields(endpoint, json as Record<string, unknown>) ??
    (imageSummary && !Array.isArray(imageSummary) ? imageSummary : null) ??
    (maskSummary && isFailure(maskSummary) ? maskSummary : null);
  return { body, failure };
}
