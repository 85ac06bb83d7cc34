import type { Readable } from 'node:stream';
import type { Candidate } from '../dispatch/plan-candidates.js';
import { runFailover, type FailoverResult } from '../dispatch/run-failover.js';
import { buildCompletedEvent, buildErrorEvent, buildPartialEvent } from '../images/image-stream-events.js';
import { buildResponsesUpstreamBody } from '../images/upstream-body.js';
import { sniffImageType } from '../images/sniff-image-type.js';
import type { ResponseMetrics } from '../observe/image-log-event.js';
import { readResponsesImageEvents, type ImageEchoes, type ImageToolUsage, type ResponsesImageEvent } from '../upstream/responses-events.js';
import { buildExhaustionError, buildFailoverInput, buildRequestWait, type DispatchContext } from './dispatch-context.js';
import { readUpstreamError } from '../upstream/upstream-error.js';
import { hostImagesResponse, logResultStoreFailure, resolveHostedImages } from './hosted-images.js';
import { sendUpstreamErrorInfo } from './send-upstream-response.js';
import { createSseResponse } from './sse-response.js';
import { STREAM_EVENT_PREFIX, endWithUpstreamError, endWithoutAnswer, eventDefaultsOf } from './stream-dispatch.js';

type FinalImage = { b64: string; echoes: ImageEchoes };

/** Where a Responses stream's image goes: to the client as events, or into one JSON answer. */
interface ResponsesTarget {
  /** An account permit is held, or the request waits for one (a stream starts its answer here). */
  onPermit(): void;
  onPartial(event: Extract<ResponsesImageEvent, { kind: 'partial' }>): void;
  onImage(image: FinalImage, usage: ImageToolUsage | null): void;
  /** True once image bytes reached the client: a failure can no longer fail over. */
  committed(): boolean;
}

/** How one Responses stream went. */
interface Relayed {
  partialEvents: number;
  image: FinalImage | null;
  usage: ImageToolUsage | null;
  /** Why no image was completed; null when one was. */
  failure: { code: string; message: string } | null;
}

type ResponsesRun =
  | { kind: 'aborted' }
  | { kind: 'exhausted' }
  | { kind: 'upstream_error'; result: Extract<FailoverResult, { kind: 'final' }> }
  | { kind: 'relayed'; relayed: Relayed; accountName: string };

const STREAM_CUT = { code: 'upstream_stream_cut', message: 'the upstream stream ended before the image was complete' };
const NO_IMAGE = { code: 'image_generation_failed', message: 'the upstream did not return image output' };

/**
 * Makes one image through the Codex Responses API and its image_generation tool,
 * failing over like a plain request: an attempt whose stream fails before anything reached the
 * client (see `target.committed`) counts as an upstream server failure and the next account is
 * tried. Fills `outcome.attempts`/`skips`/`stream`.
 */
async function runResponsesAttempts(ctx: DispatchContext, candidates: readonly Candidate[], target: ResponsesTarget): Promise<ResponsesRun> {
  const { outcome } = ctx;
  const body = buildResponsesUpstreamBody(outcome.request, ctx.snapshot.settings.responsesHostModel);
  let remaining = candidates;
  const waitForSlot = buildRequestWait(ctx, { onQueued: () => target.onPermit() });
  for (;;) {
    const result = await runFailover({
      ...buildFailoverInput(ctx, remaining, body),
      endpoint: 'responses',
      onPermit: () => target.onPermit(),
      ...(waitForSlot ? { waitForSlot } : {}),
    });
    outcome.attempts.push(...result.attempts);
    outcome.skips.push(...result.skips);
    outcome.stream = { completedEvents: 0, partialEvents: 0, path: 'responses' };
    if (result.kind === 'aborted') return { kind: 'aborted' };
    if (result.kind === 'exhausted') return { kind: 'exhausted' };
    ctx.permits.push(result.permit);
    if (result.response.status < 200 || result.response.status >= 300) return { kind: 'upstream_error', result };
    const relayed = await relay(result.response.body, target);
    result.permit.release(); // the next account may need this slot
    outcome.stream = { completedEvents: relayed.image ? 1 : 0, partialEvents: relayed.partialEvents, path: 'responses' };
    if (ctx.clientSignal.aborted || relayed.failure === null || target.committed()) {
      return { kind: 'relayed', relayed, accountName: result.candidate.account.name };
    }
    // Nothing reached the client yet: this attempt failed like an upstream 5xx; try the next account.
    outcome.attempts.at(-1)!.errorClass = 'upstream_server';
    outcome.skips.push('upstream_server');
    remaining = remaining.slice(remaining.indexOf(result.candidate) + 1);
    if (remaining.length === 0) return { kind: 'exhausted' };
  }
}

/**
 * Reads one Responses stream into the target. Never throws: a body that breaks off (connection cut,
 * timeout, client gone) is a STREAM_CUT failure, reported with what was already relayed.
 */
async function relay(body: Readable, target: ResponsesTarget): Promise<Relayed> {
  const state: Relayed = { partialEvents: 0, image: null, usage: null, failure: STREAM_CUT };
  let item: FinalImage | null = null;
  try {
    for await (const event of readResponsesImageEvents(body)) {
      if (event.kind === 'partial') {
        target.onPartial(event);
        state.partialEvents += 1;
      } else if (event.kind === 'image') {
        item = event;
      } else if (event.kind === 'failed') {
        return { ...state, failure: { code: event.code ?? NO_IMAGE.code, message: event.message } };
      } else {
        const image = event.outputImage ?? item;
        if (image === null) return { ...state, failure: NO_IMAGE };
        target.onImage(image, event.usage);
        return { ...state, image, usage: event.usage, failure: null };
      }
    }
  } catch {
    // The body broke off: STREAM_CUT, as when it ends without `response.completed`.
  }
  return state;
}

/**
 * `stream: true` with `partial_images`: each upstream `partial_image` becomes a `*.partial_image`
 * event as it arrives, the final item plus `tool_usage.image_gen` the `*.completed` event. The SSE
 * headers go out once an account is held; once a partial went out, a failure is `event: error`.
 */
export async function dispatchResponsesStream(ctx: DispatchContext, candidates: readonly Candidate[]): Promise<void> {
  const { deps, outcome } = ctx;
  const sse = createSseResponse(ctx.reply, deps.config.streamKeepaliveMs);
  const prefix = STREAM_EVENT_PREFIX[outcome.request.endpoint];
  const defaults = eventDefaultsOf(outcome.request);
  const createdAt = () => Math.floor(deps.now() / 1000);
  let sent = false;
  const run = await runResponsesAttempts(ctx, candidates, {
    onPermit: () => sse.start(),
    onPartial: (event) => {
      sse.writeEvents(buildPartialEvent(`${prefix}.partial_image`, event, defaults, createdAt()));
      sent = true;
    },
    onImage: (image, usage) => {
      sse.writeEvents(
        buildCompletedEvent(`${prefix}.completed`, image.b64, { facts: { ...image.echoes, usage }, details: usage, defaults, createdAt: createdAt() }),
      );
      sent = true;
    },
    committed: () => sent,
  });
  if (run.kind === 'aborted' || run.kind === 'exhausted') return endWithoutAnswer(ctx, sse, run.kind);
  if (run.kind === 'upstream_error') return endWithUpstreamError(ctx, sse, run.result);
  const { relayed, accountName } = run;
  const streamError = ctx.clientSignal.aborted ? 'client_aborted' : relayed.failure === null ? null : 'upstream_body';
  outcome.ending = { kind: 'upstream', status: 200, accountName, metrics: metricsOf(relayed), streamError };
  if (streamError === 'upstream_body' && relayed.failure) {
    sse.writeEvents(buildErrorEvent({ message: relayed.failure.message, type: 'server_error', param: null, code: relayed.failure.code }));
  }
  sse.end();
}

/**
 * A plain (JSON) request served through the Responses path — the fallback when the images
 * endpoint is unavailable for an account (setting `responses_fallback`): the image is collected
 * and answered as the Images API JSON the images endpoint would have given.
 */
export async function dispatchResponsesJson(ctx: DispatchContext, candidates: readonly Candidate[]): Promise<void> {
  const { deps, outcome } = ctx;
  const run = await runResponsesAttempts(ctx, candidates, {
    onPermit: () => undefined,
    onPartial: () => undefined,
    onImage: () => undefined,
    committed: () => false,
  });
  if (run.kind === 'aborted') {
    outcome.ending = { kind: 'client_aborted' };
    ctx.reply.hijack();
    return;
  }
  if (run.kind === 'exhausted') {
    const error = buildExhaustionError(outcome.attempts, outcome.skips, deps.now());
    outcome.ending = { kind: 'exhausted', status: error.status, skips: outcome.skips };
    throw error;
  }
  if (run.kind === 'upstream_error') {
    const { response } = run.result;
    const sent = await sendUpstreamErrorInfo(ctx.reply, response.status, await readUpstreamError(response.body, response.status));
    outcome.ending = { kind: 'upstream', status: sent.status, accountName: run.result.candidate.account.name, metrics: null, streamError: null };
    return;
  }
  const { relayed, accountName } = run;
  const hosted = resolveHostedImages(deps, outcome.request);
  const built = buildImagesResponse(relayed, hosted ? 'b64_json' : outcome.request.responseFormat, Math.floor(deps.now() / 1000));
  outcome.ending = { kind: 'upstream', status: 200, accountName, metrics: metricsOf(relayed), streamError: null };
  const body = hosted
    ? await hostImagesResponse(built, hosted).catch((err: unknown) => {
        logResultStoreFailure(ctx.reply.log, err);
        outcome.ending = { kind: 'upstream', status: 500, accountName, metrics: metricsOf(relayed), streamError: 'result_store_failed' };
        throw err;
      })
    : built;
  await ctx.reply.code(200).header('cache-control', 'no-store').type('application/json').send(JSON.stringify(body));
}

/** The Images API answer for an image made on the Responses path. */
function buildImagesResponse(relayed: Relayed, responseFormat: 'b64_json' | 'url', created: number) {
  const image = relayed.image!;
  const mime = sniffImageType(Buffer.from(image.b64.slice(0, 16), 'base64')) ?? `image/${image.echoes.outputFormat ?? 'png'}`;
  const entry = responseFormat === 'url' ? { url: `data:${mime};base64,${image.b64}` } : { b64_json: image.b64 };
  const usage = relayed.usage;
  return {
    created,
    data: [entry],
    ...(image.echoes.background ? { background: image.echoes.background } : {}),
    ...(image.echoes.outputFormat ? { output_format: image.echoes.outputFormat } : {}),
    ...(image.echoes.quality ? { quality: image.echoes.quality } : {}),
    ...(image.echoes.size ? { size: image.echoes.size } : {}),
    ...(usage
      ? {
          usage: {
            input_tokens: usage.inputTokens ?? 0,
            output_tokens: usage.outputTokens ?? 0,
            total_tokens: usage.totalTokens ?? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0),
            input_tokens_details: { text_tokens: usage.textTokens ?? 0, image_tokens: usage.imageTokens ?? 0 },
          },
        }
      : {}),
  };
}

/** What the log and usage need about the image a Responses stream produced. */
function metricsOf(relayed: Relayed): ResponseMetrics | null {
  const image = relayed.image;
  if (image === null) return null;
  const padding = image.b64.endsWith('==') ? 2 : image.b64.endsWith('=') ? 1 : 0;
  const usage = relayed.usage;
  return {
    bodyBytes: image.b64.length,
    imageCount: 1,
    imageBytes: Math.max(0, Math.floor((image.b64.length * 3) / 4) - padding),
    usage: usage && { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, totalTokens: usage.totalTokens, imageInputTokens: usage.imageTokens },
    ...image.echoes,
  };
}
