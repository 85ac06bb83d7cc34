import { Readable } from 'node:stream';
import { UPSTREAM_ERROR_CODES, UpstreamFailureError } from '../../src/upstream/upstream-failures.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../../src/upstream/types.js';
import { makePng } from './images.js';

/**
 * What one scripted upstream call does:
 * - `answer`: resolves with `status` and a JSON body (an `error` after `chunks` makes the body fail mid-read);
 * - `throw`: rejects with `error` (the way the real client reports timeouts, resets, bad proxies);
 * - `hang`: never answers; the caller's abort rejects it with UPSTREAM_CLIENT_ABORTED, as the real client does;
 * - `held`: waits for `until`, then plays `then` (to hold an account's slot while a test looks).
 */
export type ScriptedReply =
  | { kind: 'answer'; status: number; body: unknown; bodyError?: Error }
  | { kind: 'throw'; error: unknown }
  | { kind: 'hang' }
  | { kind: 'held'; until: Promise<void>; then: ScriptedReply };

/** Replies by account name: one that sticks, or a list played one per call (its last one then sticks). */
export type UpstreamScript = Readonly<Record<string, ScriptedReply | readonly ScriptedReply[]>>;

/** One image, as the Codex images endpoint returns it. */
export const IMAGE_B64 = makePng(4, 4).toString('base64');
export const OK_BODY = { created: 1, data: [{ b64_json: IMAGE_B64 }], usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } };

const codeError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

/** The upstream's answers and failures, in the shapes the ChatGPT backend and the undici client produce. */
export const replies = {
  ok: (): ScriptedReply => ({ kind: 'answer', status: 200, body: OK_BODY }),
  status: (status: number, body: unknown = { error: { message: `status ${status}`, type: 'server_error', code: null } }): ScriptedReply => ({
    kind: 'answer',
    status,
    body,
  }),
  /** 429 usage limit; `resetsInSeconds` null leaves the reset hint out. */
  rateLimited: (resetsInSeconds: number | null): ScriptedReply =>
    replies.status(429, {
      error: {
        type: 'usage_limit_reached',
        message: 'The usage limit has been reached',
        plan_type: 'plus',
        ...(resetsInSeconds === null ? {} : { resets_in_seconds: resetsInSeconds }),
      },
    }),
  unauthorized: (): ScriptedReply =>
    replies.status(401, { error: { message: 'Your authentication token has been invalidated.', type: 'invalid_request_error', code: 'token_invalidated' } }),
  forbidden: (): ScriptedReply => replies.status(403, { detail: 'You do not have access to this feature.' }),
  /** The content-policy refusal: a final answer, never a reason to try another account. */
  moderationBlocked: (): ScriptedReply =>
    replies.status(400, {
      error: { message: 'Your request was rejected as a result of our safety system.', type: 'invalid_request_error', code: 'moderation_blocked', param: null },
    }),
  /** An answer whose body breaks after its first bytes. */
  brokenBody: (status: number): ScriptedReply => ({
    kind: 'answer',
    status,
    body: { error: { message: 'cut' } },
    bodyError: codeError('ECONNRESET', 'socket hang up'),
  }),
  attemptTimeout: (): ScriptedReply => ({
    kind: 'throw',
    error: new UpstreamFailureError(UPSTREAM_ERROR_CODES.attemptTimeout, 'the upstream attempt took too long'),
  }),
  undiciError: (code: string): ScriptedReply => ({ kind: 'throw', error: codeError(code, `undici ${code}`) }),
  tooLarge: (): ScriptedReply => ({
    kind: 'throw',
    error: new UpstreamFailureError(UPSTREAM_ERROR_CODES.responseTooLarge, 'the upstream response was too large'),
  }),
  badProxy: (): ScriptedReply => ({ kind: 'throw', error: codeError('INVALID_PROXY_URL', 'proxyUrl must be http(s) or socks') }),
  /** A bug in the client: an error with no code at all. */
  crash: (): ScriptedReply => ({ kind: 'throw', error: new TypeError('cannot read properties of undefined') }),
  hang: (): ScriptedReply => ({ kind: 'hang' }),
  held: (until: Promise<void>, then: ScriptedReply = replies.ok()): ScriptedReply => ({ kind: 'held', until, then }),
} as const;

/** The account name behind a call: test fixtures give account `x` the access token `tok-x`. */
const accountOf = (req: UpstreamRequest): string => req.accessToken.replace(/^tok-/, '');

/** A body that sends `text` (in two pieces) and then, when given, fails with `error` instead of ending. */
function scriptedBody(text: string, error: Error | undefined): Readable {
  const half = Math.ceil(text.length / 2);
  const pieces = [text.slice(0, half), text.slice(half)];
  return new Readable({
    read() {
      const next = pieces.shift();
      if (next !== undefined) this.push(Buffer.from(next));
      else if (error) this.destroy(error);
      else this.push(null);
    },
  });
}

/**
 * A fake UpstreamClient that plays a script per account: a reply that sticks, or a list used one per
 * call (the last one then sticks). Records every call (account names, requests, signals), how many
 * are in flight and the bodies it handed out, so tests can see who was tried and what was left open.
 */
export class ScriptedUpstream implements UpstreamClient {
  readonly calls: string[] = [];
  readonly requests: UpstreamRequest[] = [];
  readonly bodies: Readable[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Resolves each time a call starts (tests wait on it before aborting mid-call). */
  private started: Array<() => void> = [];

  /** Each account's replies still to play (a copy: the caller's script is never consumed). */
  private readonly queues: Map<string, ScriptedReply[]>;

  constructor(script: UpstreamScript = {}) {
    this.queues = new Map(Object.entries(script).map(([account, reply]) => [account, Array.isArray(reply) ? [...reply] : [reply as ScriptedReply]]));
  }

  /** Resolves when the next call has started. */
  nextCall(): Promise<void> {
    return new Promise((resolve) => this.started.push(resolve));
  }

  async send(req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const account = accountOf(req);
    this.calls.push(account);
    this.requests.push(req);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const waiting = this.started;
    this.started = [];
    for (const wake of waiting) wake();
    try {
      return await this.play(this.take(account), signal);
    } finally {
      this.inFlight -= 1;
    }
  }

  async close(): Promise<void> {}

  /** The account's next reply; the last one sticks, and an account without a script answers 200. */
  private take(account: string): ScriptedReply {
    const queue = this.queues.get(account) ?? [];
    return (queue.length > 1 ? queue.shift() : queue[0]) ?? replies.ok();
  }

  private async play(reply: ScriptedReply, signal: AbortSignal): Promise<UpstreamResponse> {
    switch (reply.kind) {
      case 'answer': {
        const text = JSON.stringify(reply.body);
        const body = scriptedBody(text, reply.bodyError);
        this.bodies.push(body);
        // A whole body declares its length, as the real upstream's do.
        const length = reply.bodyError ? {} : { 'content-length': String(Buffer.byteLength(text)) };
        return { status: reply.status, headers: { 'content-type': 'application/json', ...length }, body, ttfbMs: 7 };
      }
      case 'throw':
        throw reply.error;
      case 'hang':
        return new Promise((_resolve, reject) => {
          const abort = () => reject(new UpstreamFailureError(UPSTREAM_ERROR_CODES.clientAborted, 'the upstream attempt was aborted by the caller'));
          if (signal.aborted) abort();
          else signal.addEventListener('abort', abort, { once: true });
        });
      case 'held':
        await reply.until;
        return this.play(reply.then, signal);
    }
  }
}
