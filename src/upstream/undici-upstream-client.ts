import { performance } from 'node:perf_hooks';
import { Transform, type Readable } from 'node:stream';
import type { DispatcherPool } from './dispatcher-pool.js';
import { buildUpstreamHeaders } from './upstream-headers.js';
import { UPSTREAM_ERROR_CODES, UpstreamFailureError } from './upstream-failures.js';
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

/** The two signals of one attempt, to tell which one ended it. */
interface AttemptSignals {
  caller: AbortSignal;
  timeout: AbortSignal;
  attemptTimeoutMs: number;
}

/**
 * Replaces an error caused by one of our own signals with a stable one: the caller's abort becomes
 * UPSTREAM_CLIENT_ABORTED, the attempt timer UPSTREAM_ATTEMPT_TIMEOUT (whatever reason undici or the
 * caller attached). Undici's own errors (connect/headers/body timeouts, resets) pass through.
 */
function mapAttemptError(err: unknown, signals: AttemptSignals): unknown {
  if (signals.caller.aborted) {
    return new UpstreamFailureError(UPSTREAM_ERROR_CODES.clientAborted, 'the upstream attempt was aborted by the caller');
  }
  if (signals.timeout.aborted) {
    return new UpstreamFailureError(UPSTREAM_ERROR_CODES.attemptTimeout, `the upstream attempt took longer than ${signals.attemptTimeoutMs} ms`);
  }
  return err;
}

const tooLarge = (maxBytes: number): UpstreamFailureError =>
  new UpstreamFailureError(UPSTREAM_ERROR_CODES.responseTooLarge, `the upstream response exceeded ${maxBytes} bytes`);

/**
 * Wraps an upstream body so that it fails with UPSTREAM_RESPONSE_TOO_LARGE once more than `maxBytes`
 * have passed, maps abort/timeout errors like mapAttemptError, and destroys the source when the
 * consumer goes away. Backpressure is kept (`pipe`), so nothing is buffered beyond stream watermarks.
 */
function capBody(source: Readable, maxBytes: number, signals: AttemptSignals): Readable {
  let seenBytes = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seenBytes += chunk.length;
      if (seenBytes > maxBytes) callback(tooLarge(maxBytes));
      else callback(null, chunk);
    },
  });
  source.on('error', (err) => out.destroy(mapAttemptError(err, signals) as Error));
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

function declaredLength(headers: UpstreamResponse['headers']): number | null {
  const raw = headers['content-length'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
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
    const signals: AttemptSignals = {
      caller: signal,
      timeout: AbortSignal.timeout(opts.attemptTimeoutMs),
      attemptTimeoutMs: opts.attemptTimeoutMs,
    };
    const url = urls[req.endpoint];
    const body = req.body.bytes ?? req.body.open();
    const startedAt = performance.now();
    let res: Awaited<ReturnType<typeof dispatcher.request>>;
    try {
      res = await dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: buildUpstreamHeaders(req, req.body.contentLength),
        body,
        signal: AbortSignal.any([signals.caller, signals.timeout]),
      });
    } catch (err) {
      if (!Buffer.isBuffer(body)) body.destroy();
      throw mapAttemptError(err, signals);
    }
    const ttfbMs = Math.round(performance.now() - startedAt);
    const declared = declaredLength(res.headers);
    if (declared !== null && declared > opts.maxResponseBytes) {
      res.body.destroy();
      throw tooLarge(opts.maxResponseBytes);
    }
    const capped = capBody(res.body, opts.maxResponseBytes, signals);
    return { status: res.statusCode, headers: res.headers, body: capped, ttfbMs };
  }

  return { send, close: () => opts.pool.close() };
}
