import type { BudgetHold } from '../limits/key-budget.js';
import type { ImageRequest } from '../images/image-request.js';
import type { ImageLogEvent, ResponseMetrics } from '../observe/image-log-event.js';
import type { KeyRecord } from '../store/types.js';
import type { AttemptRecord, SkipClass } from './exhaustion.js';
import type { ErrorCode } from '../errors/codes.js';

/** How one upstream track (a plain request, or one part of a fanned-out one) ended. */
export type TrackEnding =
  | { kind: 'upstream'; status: number; accountName: string; metrics: ResponseMetrics | null; streamError: string | null }
  | {
      kind: 'exhausted';
      status: number;
      skips: SkipClass[];
      /** Set when no account could even be planned: the refusal's code, the ending's error class (an empty plan has no skips to name it). */
      refusal?: ErrorCode;
    }
  | { kind: 'client_aborted' };

/** One part of a request for n images served as n one-image upstream requests. */
export interface PartOutcome {
  attempts: AttemptRecord[];
  skips: SkipClass[];
  ending: TrackEnding;
  /** ms this part spent waiting for an account slot (the admission queue), all its waits together. */
  queueWaitMs: number;
}

/** How a dispatched request ended; pre-dispatch rejections (bad input, auth) are not outcomes. */
export type RequestEnding =
  | TrackEnding
  | { kind: 'key_limited'; reason: string }
  | { kind: 'fanout'; status: number; produced: number; metrics: ResponseMetrics | null; parts: PartOutcome[] };

/** Everything the bookkeeping needs about one dispatched request, collected as it runs and used once at the end. */
export interface RequestOutcome {
  requestId: string;
  /** The client's address as the HTTP layer resolved it (trusted proxies honoured); null when unknown. */
  clientIp: string | null;
  startedAt: number;
  key: KeyRecord;
  request: ImageRequest;
  promptHash: string;
  attempts: AttemptRecord[];
  /** Accounts passed over, in order (busy ones included, which never become attempts). */
  skips: SkipClass[];
  ending: RequestEnding | null;
  /** ms spent waiting for an account slot (the admission queue), all waits together; a fan-out's parts keep their own. */
  queueWaitMs: number;
  /** For `stream: true`: the events sent and which upstream endpoint served them; null otherwise. */
  stream?: StreamFacts | null;
  /** Set by recordOutcome: a request's bookkeeping runs once, however many exits reach it. */
  recorded?: boolean;
  /** The request's estimated usage held against its key's budget; released once its real usage is recorded. */
  budgetHold?: BudgetHold | null;
}

/** What a streamed answer carried. */
export interface StreamFacts {
  completedEvents: number;
  partialEvents: number;
  /** `images`: the upstream's images endpoint; `responses`: the Responses API image_generation tool. */
  path: 'images' | 'responses';
}

/** Longest requested model name logged (it is client input). */
const MAX_LOGGED_MODEL_CHARS = 64;

const countDataImages = (req: ImageRequest) => req.images.filter((i) => i.kind !== 'url').length;

/** Status a log line reports for an ending (499 for a client that went away, as nginx does). */
export function endingStatus(ending: RequestEnding): number {
  switch (ending.kind) {
    case 'upstream':
    case 'exhausted':
    case 'fanout':
      return ending.status;
    case 'key_limited':
      return 429;
    case 'client_aborted':
      return 499;
  }
}

/**
 * Builds the request-log lines for one request: one per upstream response received (the final one
 * carries the response metrics), plus one for a key-limit rejection, an exhaustion or an abort. A
 * fanned-out request logs each part's lines, with `part` set. Fields are copied one by one from ids,
 * counts and enums: nothing here can carry a prompt or an image.
 */
export function buildImageLogEvents(outcome: RequestOutcome, now: number): ImageLogEvent[] {
  const { request, ending } = outcome;
  const base: TrackBase = {
    schema_version: 1 as const,
    ts: now,
    gateway_mode: 'standalone' as const,
    request_id: outcome.requestId,
    client_ip: outcome.clientIp,
    key_id: outcome.key.id,
    key_name: outcome.key.name,
    endpoint: request.endpoint,
    model: request.model,
    requested_model: request.requestedModel === null ? null : request.requestedModel.slice(0, MAX_LOGGED_MODEL_CHARS),
    prompt_hash: outcome.promptHash,
    size: request.options.size ?? null,
    quality: request.options.quality ?? null,
    n: request.n,
    part: null,
    ignored_params: request.ignoredParams.length > 0 ? request.ignoredParams.join(',') : null,
    mapped_params: request.mappedParams.length > 0 ? request.mappedParams.join(',') : null,
    stream: request.stream,
    partial_events: request.stream ? (outcome.stream?.partialEvents ?? 0) : null,
    upstream_path: outcome.stream?.path ?? 'images',
    input_image_count: request.images.length,
    input_data_image_count: countDataImages(request),
    queue_wait_ms: outcome.queueWaitMs,
  };
  if (ending?.kind === 'fanout') {
    return ending.parts.flatMap((part, index) =>
      buildTrackEvents({ ...base, part: index, queue_wait_ms: part.queueWaitMs }, part.attempts, part.ending, outcome.startedAt),
    );
  }
  return buildTrackEvents(base, outcome.attempts, ending, outcome.startedAt);
}

type TrackBase = Omit<
  ImageLogEvent,
  'event' | 'account_name' | 'upstream_status' | 'duration_ms' | 'upstream_ttfb_ms' | 'failover_count' | 'error_class' | keyof ReturnType<typeof metricsFields>
>;

type MetricsFields = ReturnType<typeof metricsFields>;
type TrackFields = Pick<ImageLogEvent, 'event' | 'account_name' | 'upstream_status' | 'duration_ms' | 'upstream_ttfb_ms' | 'failover_count' | 'error_class'>;

/**
 * One log line's object, every field written out in the line's key order. Not `{ ...base, ...more }`:
 * a spread followed by a dozen more fields drops V8 into its slow dictionary mode, which made building
 * and serialising each line about ten times dearer (measured: 29 µs against 3 µs), on every request.
 */
function assembleEvent(b: TrackBase, m: MetricsFields, t: TrackFields): ImageLogEvent {
  return {
    schema_version: b.schema_version,
    ts: b.ts,
    gateway_mode: b.gateway_mode,
    request_id: b.request_id,
    client_ip: b.client_ip,
    key_id: b.key_id,
    key_name: b.key_name,
    endpoint: b.endpoint,
    model: b.model,
    requested_model: b.requested_model,
    prompt_hash: b.prompt_hash,
    size: b.size,
    quality: b.quality,
    n: b.n,
    part: b.part,
    ignored_params: b.ignored_params,
    mapped_params: b.mapped_params,
    stream: b.stream,
    partial_events: b.partial_events,
    upstream_path: b.upstream_path,
    input_image_count: b.input_image_count,
    input_data_image_count: b.input_data_image_count,
    queue_wait_ms: b.queue_wait_ms,
    response_image_count: m.response_image_count,
    response_image_bytes: m.response_image_bytes,
    usage_tokens: m.usage_tokens,
    input_tokens: m.input_tokens,
    output_tokens: m.output_tokens,
    usage_missing: m.usage_missing,
    event: t.event,
    account_name: t.account_name,
    upstream_status: t.upstream_status,
    duration_ms: t.duration_ms,
    upstream_ttfb_ms: t.upstream_ttfb_ms,
    failover_count: t.failover_count,
    error_class: t.error_class,
  };
}

const EMPTY_METRICS: MetricsFields = {
  response_image_count: null,
  response_image_bytes: null,
  usage_tokens: null,
  input_tokens: null,
  output_tokens: null,
  usage_missing: true,
};

function buildTrackEvents(base: TrackBase, attempts: readonly AttemptRecord[], ending: RequestEnding | null, startedAt: number): ImageLogEvent[] {
  const events: ImageLogEvent[] = [];
  let failovers = 0;
  attempts.forEach((attempt, index) => {
    const isFinal = ending?.kind === 'upstream' && index === attempts.length - 1;
    if (attempt.status !== null) {
      const metrics = isFinal && ending?.kind === 'upstream' ? ending.metrics : null;
      events.push(
        assembleEvent(base, metrics ? metricsFields(metrics) : EMPTY_METRICS, {
          event: 'attempt',
          account_name: attempt.accountName,
          upstream_status: attempt.status,
          duration_ms: attempt.endedAt - startedAt,
          upstream_ttfb_ms: attempt.ttfbMs,
          failover_count: failovers,
          error_class: isFinal && ending?.kind === 'upstream' && ending.streamError ? ending.streamError : attempt.errorClass,
        }),
      );
    }
    if (!isFinal) failovers += 1;
  });
  if (ending && ending.kind !== 'upstream' && ending.kind !== 'fanout') {
    events.push(
      assembleEvent(base, EMPTY_METRICS, {
        event: ending.kind,
        account_name: null,
        upstream_status: endingStatus(ending),
        duration_ms: base.ts - startedAt,
        upstream_ttfb_ms: null,
        failover_count: failovers,
        error_class: endingErrorClass(ending, attempts),
      }),
    );
  }
  return events;
}

/** The error class that describes how a request ended; null for a clean success. */
export function endingErrorClass(ending: RequestEnding, attempts: readonly AttemptRecord[]): string | null {
  switch (ending.kind) {
    case 'upstream':
      return ending.streamError ?? attempts.at(-1)?.errorClass ?? null;
    case 'key_limited':
      return ending.reason;
    case 'client_aborted':
      return 'client_aborted';
    case 'exhausted':
      return ending.skips.at(-1) ?? ending.refusal ?? 'no_eligible_account';
    case 'fanout':
      return ending.produced === 0 ? endingErrorClass(ending.parts.at(-1)!.ending, ending.parts.at(-1)!.attempts) : null;
  }
}

function metricsFields(m: ResponseMetrics) {
  return {
    response_image_count: m.imageCount,
    response_image_bytes: m.imageBytes > 0 ? m.imageBytes : null,
    usage_tokens: m.usage?.totalTokens ?? null,
    input_tokens: m.usage?.inputTokens ?? null,
    output_tokens: m.usage?.outputTokens ?? null,
    usage_missing: m.usage?.totalTokens == null,
  };
}
