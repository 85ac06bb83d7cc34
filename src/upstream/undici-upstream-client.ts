import type { DispatcherPool } from './dispatcher-pool.js';
import { runAttempt } from './upstream-attempt.js';
import { buildUpstreamHeaders } from './upstream-headers.js';
import { joinUpstreamUrl, normalizeUpstreamBaseUrl, upstreamPathFor } from './upstream-url.js';
import type { UpstreamClient, UpstreamEndpoint, UpstreamRequest, UpstreamResponse } from './types.js';

export interface UndiciUpstreamClientOptions {
  /** Upstream base (normalised here with normalizeUpstreamBaseUrl). */
  baseUrl: string;
  /** Dispatchers per proxy; the client owns it from now on and closes it in `close()`. */
  pool: DispatcherPool;
  /** Limit on one whole attempt: connect, headers and the full body. */
  attemptTimeoutMs: number;
  /** Largest response body accepted, enforced while streaming. */
  maxResponseBytes: number;
}

function checkPositive(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`);
}

/**
 * Creates the real UpstreamClient: one POST per call, through the dispatcher for the account's proxy,
 * with the body given whole (`body.bytes`) or streamed from `body.open()`, and its exact length. The attempt ends on the caller's
 * signal or after `attemptTimeoutMs` (headers and body together). The response body is returned
 * unread, capped at `maxResponseBytes` (a larger Content-Length is refused up front). Never retries.
 * @throws UpstreamFailureError (client abort, attempt timeout, too large), undici errors (by `code`),
 *   InvalidProxyUrlError for a bad proxy URL. Classify with upstream-failures.ts.
 */
export function createUndiciUpstreamClient(opts: UndiciUpstreamClientOptions): UpstreamClient {
  checkPositive('attemptTimeoutMs', opts.attemptTimeoutMs);
  checkPositive('maxResponseBytes', opts.maxResponseBytes);
  const base = normalizeUpstreamBaseUrl(opts.baseUrl);
  const urls: Record<UpstreamEndpoint, URL> = {
    generations: new URL(joinUpstreamUrl(base, upstreamPathFor('generations'))),
    edits: new URL(joinUpstreamUrl(base, upstreamPathFor('edits'))),
    responses: new URL(joinUpstreamUrl(base, upstreamPathFor('responses'))),
  };

  async function send(req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const dispatcher = opts.pool.get(req.proxyUrl);
    const url = urls[req.endpoint];
    return runAttempt({
      dispatcher,
      request: {
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: buildUpstreamHeaders(req, req.body.contentLength),
        body: req.body.bytes ?? req.body.open(),
      },
      caller: signal,
      attemptTimeoutMs: opts.attemptTimeoutMs,
      maxResponseBytes: opts.maxResponseBytes,
    });
  }

  return { send, close: () => opts.pool.close() };
}
