/**
 * What the fake Codex upstream can be told to do with a request, and the book that decides which
 * behaviour the next request of an account gets (queued ones first, then sticky ones, then success).
 * Most behaviours apply to every endpoint; the stream ones (responseFailed, streamError, streamCut,
 * stallStream, textOnly) only mean something on `/responses` and answer 500 elsewhere.
 */

/** The `usage` object of a success body; totals default to the sum, details to image-only tokens. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens?: number;
  input_tokens_details?: Record<string, number>;
  output_tokens_details?: Record<string, number>;
}

export interface SuccessOptions {
  /** Wait before sending headers (the generation time). Default 0. */
  delayMs?: number;
  /** Size of each returned image in bytes (PNG signature + filler). Default: a real 1x1 PNG. */
  imageBytes?: number;
  /** Images returned. Default: the request's `n` when it is 1..10, else 1. */
  n?: number;
  /** Usage per image (multiplied by the image count); null omits `usage`. Default 17 in, 1372 out. */
  usage?: FakeUsage | null;
  /** Send the body chunked (no Content-Length); default: the fake's `chunked` option. */
  chunked?: boolean;
  /**
   * Top-level fields merged into the body (e.g. `{ size: '1024x1536' }`); `data` cannot be replaced.
   * On `/responses`: merged into the final `image_generation_call` item (and the echo fields of the
   * partial images); `result` cannot be replaced; an `undefined` value drops a field.
   */
  extra?: Record<string, unknown>;
  /** `/responses` only: wait after the 200 headers before the first SSE event. Default 0. */
  firstEventDelayMs?: number;
  /** `/responses` only: wait before every SSE event after the first. Default 0. */
  eventIntervalMs?: number;
  /** `/responses` only: a reasoning item at output_index 0 before the image call (which then has index 1), as the live backend sends. Default false. */
  reasoningItem?: boolean;
  /** `/responses` only: list the final item in `response.completed`'s `response.output` (the live backend often sends `[]`). Default false. */
  outputInCompleted?: boolean;
}

/**
 * Where a scripted `/responses` stream failure happens: `'start'` right after the 200 headers (no
 * event at all); a number k after `response.image_generation_call.generating` and min(k, requested
 * `partial_images`) partial images; `'item'` after `response.output_item.done` (the whole image was
 * sent, `response.completed` was not).
 */
export type StreamPoint = 'start' | number | 'item';

/** Options of the stream failures: where they happen, plus the stream they interrupt (SuccessOptions). */
export interface StreamFailureOptions extends SuccessOptions {
  /** Default 0: after `generating`, before any partial image. */
  at?: StreamPoint;
}

/** Options of `responseFailed` and `streamError`: the error they carry. */
export interface StreamErrorOptions extends StreamFailureOptions {
  /** Default `server_error`. */
  code?: string;
  /** Default 'An error occurred while processing your request.' */
  message?: string;
}

/** The stream behaviours, played by responses-play.ts. */
export type StreamBehavior =
  | { kind: 'responseFailed'; options: StreamErrorOptions }
  | { kind: 'streamError'; options: StreamErrorOptions }
  | { kind: 'streamCut'; options: StreamFailureOptions }
  | { kind: 'stallStream'; stallMs: number; options: StreamFailureOptions }
  | { kind: 'textOnly'; text: string; options: SuccessOptions };

export type Behavior =
  | { kind: 'success'; options: SuccessOptions }
  | { kind: 'raw'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'slowHeaders'; delayMs: number; then: Behavior }
  | { kind: 'stallBody'; stallMs: number }
  | StreamBehavior;

/** A refusal as the host model words it when it answers in text instead of calling the tool. */
export const DEFAULT_TEXT_ANSWER = "I can't help with generating that image.";

/** Builders for every behaviour, named after what the real backend does. */
export const fakeBehaviors = {
  /** 200 with a Codex images-endpoint body, streamed in chunks. */
  success: (options: SuccessOptions = {}): Behavior => ({ kind: 'success', options }),
  /** Any status and body (a string is sent as is, anything else as JSON). */
  raw: (status: number, body: unknown, headers?: Record<string, string>): Behavior => ({
    kind: 'raw',
    status,
    body,
    ...(headers ? { headers } : {}),
  }),
  /** 429 usage limit, as the ChatGPT backend answers it. */
  rateLimited: (opts: { resetsInSeconds?: number; planType?: string; type?: string } = {}): Behavior =>
    fakeBehaviors.raw(429, {
      error: {
        type: opts.type ?? 'usage_limit_reached',
        message: 'The usage limit has been reached',
        plan_type: opts.planType ?? 'plus',
        resets_in_seconds: opts.resetsInSeconds ?? 3600,
      },
    }),
  /** 401 (token rejected). */
  unauthorized: (): Behavior =>
    fakeBehaviors.raw(401, {
      error: {
        message: 'Your authentication token has been invalidated. Please try signing in again.',
        type: 'invalid_request_error',
        code: 'token_invalidated',
        param: null,
      },
    }),
  /** 403; `detail: true` answers in the FastAPI `{"detail": ...}` style. */
  forbidden: (opts: { detail?: boolean } = {}): Behavior =>
    opts.detail
      ? fakeBehaviors.raw(403, { detail: 'You do not have access to this feature.' })
      : fakeBehaviors.raw(403, {
          error: { message: 'You do not have access to image generation.', type: 'permission_error', code: null },
        }),
  /** 500, 502 or 503 with a server_error body. */
  serverError: (status: 500 | 502 | 503 = 500): Behavior =>
    fakeBehaviors.raw(status, {
      error: { message: 'An error occurred while processing your request.', type: 'server_error', code: null },
    }),
  /** Any status with a FastAPI `{"detail": text}` body. */
  detailError: (status: number, text: string): Behavior => fakeBehaviors.raw(status, { detail: text }),
  /** 400 moderation block (must not fail over). */
  badRequest: (): Behavior =>
    fakeBehaviors.raw(400, {
      error: {
        message: 'Your request was rejected as a result of our safety system.',
        type: 'invalid_request_error',
        code: 'moderation_blocked',
        param: null,
      },
    }),
  /** Destroys the connection without answering. */
  reset: (): Behavior => ({ kind: 'reset' }),
  /** Never answers; the connection is closed by `reset()`/`close()` of the fake (or the client). */
  hang: (): Behavior => ({ kind: 'hang' }),
  /** Waits `delayMs`, then behaves as `then` (default success). */
  slowHeaders: (delayMs: number, then: Behavior = fakeBehaviors.success()): Behavior => ({
    kind: 'slowHeaders',
    delayMs,
    then,
  }),
  /**
   * Sends 200 headers and part of a success body, goes silent for `stallMs` (Infinity = for good), then
   * finishes. On `/responses`: `stallStream(stallMs)` (stalls after `generating`).
   */
  stallBody: (stallMs: number): Behavior => ({ kind: 'stallBody', stallMs }),
  /**
   * `/responses`: the stream runs to `at`, then sends `response.failed` (its `response.status` is
   * `failed`, `response.error` is `{code, message}`) and ends normally.
   */
  responseFailed: (options: StreamErrorOptions = {}): Behavior => ({ kind: 'responseFailed', options }),
  /** `/responses`: the stream runs to `at`, then sends an `error` event (`{type, code, message, param: null}`) and ends. */
  streamError: (options: StreamErrorOptions = {}): Behavior => ({ kind: 'streamError', options }),
  /** `/responses`: the stream runs to `at`, then the connection is destroyed (no `response.completed`, no chunk terminator). */
  streamCut: (options: StreamFailureOptions = {}): Behavior => ({ kind: 'streamCut', options }),
  /** `/responses`: the stream runs to `at`, goes silent for `stallMs` (Infinity = until the client leaves), then finishes normally. */
  stallStream: (stallMs: number, options: StreamFailureOptions = {}): Behavior => ({ kind: 'stallStream', stallMs, options }),
  /**
   * `/responses`: the host model answers in text (a `message` item with `output_text`) and never calls
   * the tool; `response.completed` comes with no image. Also what a request without the
   * `image_generation` tool gets from `success`.
   */
  textOnly: (options: SuccessOptions & { text?: string } = {}): Behavior => {
    const { text, ...rest } = options;
    return { kind: 'textOnly', text: text ?? DEFAULT_TEXT_ANSWER, options: rest };
  },
} as const;

/** Behaviour selection per account id, or `'*'` for every account. */
export class BehaviorBook {
  private readonly queues = new Map<string, Behavior[]>();
  private readonly sticky = new Map<string, Behavior>();

  /** One behaviour: sticky for the key (clears its queue). A list: queued, one per request. */
  set(key: string, behavior: Behavior | Behavior[]): void {
    if (Array.isArray(behavior)) {
      this.queues.set(key, [...behavior]);
      return;
    }
    this.sticky.set(key, behavior);
    this.queues.delete(key);
  }

  /** Account queue, account sticky, `'*'` queue, `'*'` sticky, then `fallback`. */
  next(accountId: string | null, fallback: Behavior): Behavior {
    const keys = accountId === null ? ['*'] : [accountId, '*'];
    for (const key of keys) {
      const queued = this.queues.get(key)?.shift();
      if (queued) return queued;
      const sticky = this.sticky.get(key);
      if (sticky) return sticky;
    }
    return fallback;
  }

  clear(): void {
    this.queues.clear();
    this.sticky.clear();
  }
}
