import { EventEmitter } from 'node:events';
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

/**
 * The abort signal handed to undici for one attempt. Undici takes an EventEmitter with `aborted` and
 * `reason` as well as an AbortSignal; this one costs a plain object per request, where an
 * AbortController's signal is an EventTarget (a measurable share of a small request's CPU).
 */
class AttemptAbortSignal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** What can end one attempt: the caller's signal or the attempt timer, and which one did. */
interface AttemptSignals {
  caller: AbortSignal;
  /** Aborts on either; handed to undici. */
  signal: AttemptAbortSignal;
  timedOut(): boolean;
  attemptTimeoutMs: number;
  /** Stops watching both (the attempt is over): the timer is cleared, the caller's listener removed. */
  end(): void;
}

/**
 * One attempt's abort signal: the caller's abort or the attempt timer, whichever comes first. Built
 * by hand rather than with AbortSignal.any and AbortSignal.timeout: those cost a weak-reference
 * registration per request and leave each timer pending for the whole timeout (minutes) after the
 * attempt is over, where `end()` clears it.
 */
function watchAttempt(caller: AbortSignal, attemptTimeoutMs: number): AttemptSignals {
  const attemptSignal = new AttemptAbortSignal();
  let timedOut = false;
  const onCallerAbort = () => attemptSignal.abort(caller.reason);
  const timer = setTimeout(() => {
    timedOut = true;
    attemptSignal.abort(new DOMException('the upstream attempt timed out', 'TimeoutError'));
  }, attemptTimeoutMs);
  timer.unref();
  if (caller.aborted) onCallerAbort();
  else caller.addEventListener('abort', onCallerAbort, { once: true });
  return {
    caller,
    signal: attemptSignal,
    timedOut: () => timedOut,
    attemptTimeoutMs,
    end() {
      clearTimeout(timer);
      caller.removeEventListener('abort', onCallerAbort);
    },
  };
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
  if (signals.timedOut()) {
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
    signals.end();
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
    const url = urls[req.endpoint];
    const body = req.body.bytes ?? req.body.open();
    const startedAt = performance.now();
    const signals = watchAttempt(signal, opts.attemptTimeoutMs);
    let res: Awaited<ReturnType<typeof dispatcher.request>>;
    try {
      res = await dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: buildUpstreamHeaders(req, req.body.contentLength),
        body,
        signal: signals.signal,
      });
    } catch (err) {
      signals.end();
      if (!Buffer.isBuffer(body)) body.destroy();
      throw mapAttemptError(err, signals);
    }
    const ttfbMs = Math.round(performance.now() - startedAt);
    const declared = declaredLength(res.headers);
    if (declared !== null && declared > opts.maxResponseBytes) {
      signals.end();
      res.body.destroy();
      throw tooLarge(opts.maxResponseBytes);
    }
    const capped = capBody(res.body, opts.maxResponseBytes, signals);
    return { status: res.statusCode, headers: res.headers, body: capped, ttfbMs };
  }

  return { send, close: () => opts.pool.close() };
}
