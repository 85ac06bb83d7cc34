/** Small HTTP helpers of the fake Codex upstream: header recording, body reading, error answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WireFailure } from './wire-checks.js';

/** Lower-cased request headers as recorded: `authorization` reduced to `account:<id>` (never the token). */
export function recordHeaders(req: IncomingMessage, accountId: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (out.authorization !== undefined) out.authorization = accountId ? `account:${accountId}` : '(unidentified)';
  return out;
}

/** Reads a request body whole; null once it passes `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** Answers `failure` (a string body as is, anything else as JSON) unless the client is gone. */
export function sendFailure(res: ServerResponse, failure: WireFailure, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = typeof failure.body === 'string' ? failure.body : JSON.stringify(failure.body);
  const contentType = failure.contentType ?? (typeof failure.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json');
  res.writeHead(failure.status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
