/**
 * What the fake Codex upstream can be told to do with a request, and the book that decides which
 * behaviour the next request of an account gets (queued ones first, then sticky ones, then success).
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
  /** Top-level fields merged into the body (e.g. `{ size: '1024x1536' }`); `data` cannot be replaced. */
  extra?: Record<string, unknown>;
}

export type Behavior =
  | { kind: 'success'; options: SuccessOptions }
  | { kind: 'raw'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'slowHeaders'; delayMs: number; then: Behavior }
  | { kind: 'stallBody'; stallMs: number };

/** Builders for every behaviour, named after what the real backend does. */
export const fakeBehaviors = {
  /** 200 with a contract §2.6 body, streamed in chunks. */
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
  /** Sends 200 headers and part of a success body, goes silent for `stallMs` (Infinity = for good), then finishes. */
  stallBody: (stallMs: number): Behavior => ({ kind: 'stallBody', stallMs }),
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
