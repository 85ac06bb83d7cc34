import type { Readable } from 'node:stream';
import type { OpenAIErrorType } from '../errors/codes.js';
import { openAITypeForStatus, upstreamErrorBody, type OpenAIErrorResponse } from '../errors/openai-shape.js';
import { buildRetryHeaders } from '../errors/retry-hint.js';
import { isJsonObject } from '../guards/is-json-object.js';

/** Most bytes of an upstream error body read (the rest is discarded with the stream). */
export const MAX_UPSTREAM_ERROR_BYTES = 64 * 1024;

/** Longest upstream error message passed on, after redaction. */
export const MAX_UPSTREAM_ERROR_MESSAGE_CHARS = 500;

/** What an upstream error body said, normalised from either backend shape. */
export interface UpstreamErrorInfo {
  /** Trimmed, redacted, at most 500 characters; `upstream returned status N` when nothing usable. */
  message: string;
  /** e.g. `usage_limit_reached`, `invalid_request_error`. */
  type: string | null;
  /** e.g. `moderation_blocked`, `token_expired`. */
  code: string | null;
  /** Seconds until a usage limit resets, from `resets_in_seconds` or computed from `resets_at`. */
  resetsInSeconds: number | null;
  /** `plan_type` from a usage-limit error. */
  planType: string | null;
}

/** OpenAI error types an upstream may use verbatim; any other type is replaced by the status's type. */
const KNOWN_OPENAI_TYPES = {
  invalid_request_error: true,
  authentication_error: true,
  permission_error: true,
  not_found_error: true,
  rate_limit_error: true,
  insufficient_quota: true,
  server_error: true,
} as const satisfies Record<OpenAIErrorType, true>;

/**
 * What must never leave an upstream message: data URLs, bearer tokens, JWTs, API/refresh keys, URLs
 * (they may be a client's image URL), long base64 runs. Applied in order (data URLs first: they hold base64).
 */
const REDACTIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bdata:[^\s"'<>]+/gi, '[redacted data URL]'],
  [/\bbearer\s+[^\s"',;]+/gi, 'Bearer [redacted]'],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?/g, '[redacted token]'],
  [/\b(?:sk|rt|cig)[-_][A-Za-z0-9_-]{12,}/g, '[redacted key]'],
  [/\bhttps?:\/\/[^\s"'<>]+/gi, '[redacted URL]'],
  [/[A-Za-z0-9+/_-]{200,}={0,2}/g, '[redacted base64]'],
];

// Control characters (newlines included) are flattened to spaces.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /\p{Cc}+/gu;

/** Makes an upstream message safe to show and log: no control characters, secrets redacted, ≤ 500 chars. */
export function redactUpstreamMessage(text: string): string {
  let out = text.replace(CONTROL_CHARS, ' ');
  for (const [pattern, replacement] of REDACTIONS) out = out.replace(pattern, replacement);
  out = out.trim();
  return out.length > MAX_UPSTREAM_ERROR_MESSAGE_CHARS ? `${out.slice(0, MAX_UPSTREAM_ERROR_MESSAGE_CHARS - 1)}…` : out;
}

type JsonObject = Record<string, unknown>;

const stringOrNull = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);
const codeOrNull = (v: unknown): string | null => (typeof v === 'number' ? String(v) : stringOrNull(v));

/** The object that describes the error: `error: {...}`, `detail: {...}`, or the top level. */
function findErrorObject(json: JsonObject): JsonObject {
  if (isJsonObject(json.error)) return json.error;
  if (isJsonObject(json.detail)) return json.detail;
  return json;
}

/** The message from any known shape; FastAPI validation lists give their first `msg`. */
function findMessage(json: JsonObject, errorObject: JsonObject): string | null {
  const first = Array.isArray(json.detail) && isJsonObject(json.detail[0]) ? json.detail[0] : null;
  return stringOrNull(errorObject.message) ?? stringOrNull(json.error) ?? stringOrNull(json.detail) ?? stringOrNull(first?.msg) ?? stringOrNull(json.message);
}

function findResetsInSeconds(errorObject: JsonObject, nowMs: number): number | null {
  const inSeconds = errorObject.resets_in_seconds;
  if (typeof inSeconds === 'number' && Number.isFinite(inSeconds)) return Math.max(0, Math.ceil(inSeconds));
  const at = errorObject.resets_at;
  if (typeof at !== 'number' || !Number.isFinite(at)) return null;
  return Math.max(0, Math.ceil(at - nowMs / 1000));
}

/**
 * Parses an upstream error body (pure; see readUpstreamError). Accepts `{"error":{message,type,code,…}}`,
 * `{"error":"text"}`, `{"detail":"text"}`, `{"detail":{"message":…}}`, FastAPI `{"detail":[{msg}]}`
 * and a top-level `message`. Anything else gives `upstream returned status N`.
 */
export function parseUpstreamError(status: number, text: string, nowMs: number): UpstreamErrorInfo {
  const fallback = `upstream returned status ${status}`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  if (!isJsonObject(json)) return { message: fallback, type: null, code: null, resetsInSeconds: null, planType: null };
  const errorObject = findErrorObject(json);
  const message = findMessage(json, errorObject);
  return {
    message: (message === null ? '' : redactUpstreamMessage(message)) || fallback,
    type: stringOrNull(errorObject.type),
    code: codeOrNull(errorObject.code) ?? (errorObject === json ? null : codeOrNull(json.code)),
    resetsInSeconds: findResetsInSeconds(errorObject, nowMs),
    planType: stringOrNull(errorObject.plan_type),
  };
}

/** Reads at most `maxBytes` of a stream, then destroys it; a stream error ends the read with what arrived. */
function readBounded(body: Readable, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      resolve(Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const take = Math.min(buf.length, maxBytes - total);
      chunks.push(buf.subarray(0, take));
      total += take;
      if (total < maxBytes) return;
      finish();
      body.destroy();
    };
    body.on('data', onData);
    body.once('end', finish);
    body.once('error', finish);
    body.once('close', finish);
  });
}

/**
 * Reads an upstream error body (at most `maxBytes`, default 64 KiB; the stream is destroyed past that)
 * and normalises it with parseUpstreamError. Never throws: a broken body gives the generic message.
 */
export async function readUpstreamError(body: Readable, status: number, opts: { maxBytes?: number; nowMs?: number } = {}): Promise<UpstreamErrorInfo> {
  const bytes = await readBounded(body, opts.maxBytes ?? MAX_UPSTREAM_ERROR_BYTES);
  return parseUpstreamError(status, bytes.toString('utf8'), opts.nowMs ?? Date.now());
}

const isKnownOpenAIType = (type: string | null): type is OpenAIErrorType => type !== null && Object.hasOwn(KNOWN_OPENAI_TYPES, type);

/**
 * Builds the OpenAI-shaped answer for an upstream error the client should see:
 * the upstream status; `type` kept when it is an OpenAI type, else derived from the status (a 429
 * `usage_limit_reached` becomes `rate_limit_error`); `code` is the upstream code, else its type;
 * `retry-after` (seconds) and `retry-after-ms` when the upstream said when the limit resets.
 */
export function buildUpstreamErrorResponse(status: number, info: UpstreamErrorInfo): OpenAIErrorResponse {
  const type = isKnownOpenAIType(info.type) ? info.type : openAITypeForStatus(status);
  const message = info.message || `upstream returned status ${status}`;
  const headers: Record<string, string> = info.resetsInSeconds === null ? {} : { ...buildRetryHeaders(info.resetsInSeconds * 1000) };
  return { status, body: upstreamErrorBody(message, type, info.code ?? info.type), headers };
}
