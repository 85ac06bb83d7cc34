/**
 * One upstream attempt on undici's `dispatch` API: its lifetime (the caller's abort and the attempt
 * timer), its response head, and its body as one plain Readable fed straight from undici's handler
 * callbacks and capped at a size. Built on `dispatch` rather than undici's `request`, which wraps the
 * body in a Readable of its own that the cap and the error mapping then had to wrap again in a
 * Transform: here each chunk takes one stream hop from the socket's parser to the consumer (about
 * 30 µs of CPU less per small request on a bare proxy; bench/README.md).
 */
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { UPSTREAM_ERROR_CODES, UpstreamFailureError } from './upstream-failures.js';
import type { UpstreamResponse } from './types.js';

/** Body bytes buffered before the upstream socket is paused: the default of undici's own `request`. */
const BODY_HIGH_WATER_MARK = 64 * 1024;

export interface AttemptOptions {
  dispatcher: Dispatcher;
  request: Dispatcher.DispatchOptions;
  /** The caller's signal: its abort ends the attempt as UPSTREAM_CLIENT_ABORTED. */
  caller: AbortSignal;
  /** Limit on the whole attempt: connect, headers and the full body. */
  attemptTimeoutMs: number;
  /** Largest response body accepted: a larger Content-Length is refused up front, a longer body is cut. */
  maxResponseBytes: number;
}

const tooLarge = (maxBytes: number): UpstreamFailureError =>
  new UpstreamFailureError(UPSTREAM_ERROR_CODES.responseTooLarge, `the upstream response exceeded ${maxBytes} bytes`);

/**
 * Sends one request; settles with its status, headers and unread body once the response head
 * arrives. Errors caused by our own signals are replaced with stable ones, before the head and in
 * the body alike: the caller's abort becomes UPSTREAM_CLIENT_ABORTED, the attempt timer
 * UPSTREAM_ATTEMPT_TIMEOUT; undici's own errors (connect, headers and body timeouts, resets) pass
 * through. A consumer that destroys the body early aborts the request, so its connection is freed.
 */
export function runAttempt(opts: AttemptOptions): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => new Attempt(opts, resolve, reject).start());
}

class Attempt implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private body: UpstreamBody | null = null;
  /** Set when the attempt was aborted before undici handed over its controller. */
  private pendingAbort: Error | null = null;
  private timedOut = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = performance.now();
  private received = 0;
  /** The promise is settled (head resolved, or failure rejected). */
  private settled = false;
  /** The upstream sent its whole body. */
  private complete = false;

  constructor(
    private readonly opts: AttemptOptions,
    private readonly resolve: (response: UpstreamResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(): void {
    const { caller } = this.opts;
    if (caller.aborted) {
      this.fail(this.mapError(asError(caller.reason)));
      return;
    }
    caller.addEventListener('abort', this.onCallerAbort, { once: true });
    this.timer = setTimeout(this.onTimeout, this.opts.attemptTimeoutMs);
    this.timer.unref();
    this.opts.dispatcher.dispatch(this.opts.request, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) controller.abort(this.pendingAbort);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: UpstreamResponse['headers']): void {
    if (statusCode < 200) return; // 1xx: informational, the answer follows
    if (this.settled) {
      controller.abort(new Error('the upstream attempt had already ended'));
      return;
    }
    const declared = declaredLength(headers);
    if (declared !== null && declared > this.opts.maxResponseBytes) {
      const err = tooLarge(this.opts.maxResponseBytes);
      this.fail(err);
      controller.abort(err);
      return;
    }
    this.settled = true;
    this.body = new UpstreamBody(this);
    this.resolve({ status: statusCode, headers, body: this.body, ttfbMs: Math.round(performance.now() - this.startedAt) });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const body = this.body;
    if (!body || body.destroyed) return;
    this.received += chunk.length;
    if (this.received > this.opts.maxResponseBytes) cutBody(body, tooLarge(this.opts.maxResponseBytes));
    else if (!body.push(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.complete = true;
    if (this.body && !this.body.destroyed) this.body.push(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const mapped = this.mapError(error);
    if (!this.settled) this.fail(mapped);
    else if (this.body && !this.body.destroyed) cutBody(this.body, mapped);
  }

  /** The consumer wants more: let the socket flow again. */
  readMore(): void {
    this.controller?.resume();
  }

  /** The body is closed (read to its end, or destroyed): stop watching, and free the connection if the upstream was not done. */
  bodyClosed(err: Error | null): void {
    this.stopWatching();
    if (!this.complete) this.controller?.abort(err ?? new Error('the upstream response body was closed before its end'));
  }

  private readonly onCallerAbort = (): void => this.abort(this.opts.caller.reason);

  private readonly onTimeout = (): void => {
    this.timedOut = true;
    this.abort(new DOMException('the upstream attempt timed out', 'TimeoutError'));
  };

  private abort(reason: unknown): void {
    const err = asError(reason);
    if (this.body) cutBody(this.body, this.mapError(err));
    else if (this.controller) this.controller.abort(err);
    else this.pendingAbort = err;
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.stopWatching();
    const upload = this.opts.request.body;
    if (upload instanceof Readable) upload.destroy();
    this.reject(err);
  }

  private stopWatching(): void {
    if (this.timer) clearTimeout(this.timer);
    this.opts.caller.removeEventListener('abort', this.onCallerAbort);
  }

  private mapError(err: Error): Error {
    if (this.opts.caller.aborted) return new UpstreamFailureError(UPSTREAM_ERROR_CODES.clientAborted, 'the upstream attempt was aborted by the caller');
    if (this.timedOut) {
      return new UpstreamFailureError(UPSTREAM_ERROR_CODES.attemptTimeout, `the upstream attempt took longer than ${this.opts.attemptTimeoutMs} ms`);
    }
    return err;
  }
}

/** An attempt's response body: fed by the attempt's handler, pausing the socket when full. */
class UpstreamBody extends Readable {
  constructor(private readonly attempt: Attempt) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
  }

  override _read(): void {
    this.attempt.readMore();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.attempt.bodyClosed(err);
    callback(err);
  }
}

/**
 * Ends a body with an error of the attempt's own (abort, timer, cap, transport). Its consumer, if it
 * listens, gets the error; a body nobody reads any more (its request already answered) must not
 * crash the process with an unhandled 'error' event, which is why undici's own bodies get the same
 * no-op listener when it destroys them.
 */
function cutBody(body: UpstreamBody, err: Error): void {
  body.on('error', ignoreError);
  body.destroy(err);
}

const ignoreError = (): void => undefined;

const asError = (reason: unknown): Error => (reason instanceof Error ? reason : new Error(String(reason)));

/** The response's Content-Length as a number, or null when it has none or none that is a plain decimal. */
export function declaredLength(headers: UpstreamResponse['headers']): number | null {
  const raw = headers['content-length'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}
