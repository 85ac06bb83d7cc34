/** Shared builders for the upstream tests: a request to the fake, and a body reader that keeps errors. */
import { Readable } from 'node:stream';
import type { UpstreamRequest } from '../../../src/upstream/types.js';
import { makeCodexJwt } from '../../support/jwt.js';

/** A JSON upstream body that can be opened once per attempt. */
export function jsonBody(value: unknown): UpstreamRequest['body'] {
  const bytes = Buffer.from(JSON.stringify(value));
  return { contentLength: bytes.length, open: () => Readable.from([bytes]) };
}

/** A valid generations request for `accountId`, with the fake's contract satisfied. */
export function sampleUpstreamRequest(accountId: string, over: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return {
    endpoint: 'generations',
    body: jsonBody({ prompt: 'a red fox in a field', model: 'gpt-image-2' }),
    accessToken: makeCodexJwt({ accountId }),
    chatgptAccountId: accountId,
    fedramp: false,
    proxyUrl: null,
    clientHeaders: {},
    codexClientVersion: '0.150.1',
    ...over,
  };
}

/** Reads a whole stream; resolves with the bytes or the error that ended it. */
export async function drain(body: Readable): Promise<{ bytes: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return { bytes: Buffer.concat(chunks), error: null };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

/** Resolves with the rejection of a promise that must reject. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Polls `check` until it is true (real I/O settles asynchronously); fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
