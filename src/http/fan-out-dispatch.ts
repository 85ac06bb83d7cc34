import type { PartOutcome, TrackEnding } from '../dispatch/request-outcome.js';
import { runFailover, type HeldSlot } from '../dispatch/run-failover.js';
import { runFanOut, type PartResult } from '../dispatch/run-fan-out.js';
import type { GatewayError } from '../errors/codes.js';
import { toOpenAIError } from '../errors/openai-shape.js';
import { buildErrorEvent } from '../images/image-stream-events.js';
import { buildUpstreamBody } from '../images/upstream-body.js';
import type { ResponseMetrics } from '../observe/image-log-event.js';
import { buildUpstreamErrorResponse } from '../upstream/upstream-error.js';
import { buildExhaustionError, buildFailoverInput, planFor, waitForSlot, type DispatchContext, type DispatchCore } from './dispatch-context.js';
import { buildPartEvents, combinePartMetrics, readPartBody, sendFanOutResponse, sendPartError, type PartBody } from './fan-out-response.js';
import { hostImagesResponse, logResultStoreFailure, resolveHostedImages } from './hosted-images.js';
import { createSseResponse } from './sse-response.js';
import { STREAM_EVENT_PREFIX, eventDefaultsOf } from './stream-dispatch.js';

/** A part's body and the account that produced it. */
interface NamedPartBody {
  accountName: string;
  body: PartBody;
}

type ImagePart = Extract<PartBody, { kind: 'image' }>;

/** How the parts ended, summed up. */
interface FanOutRun {
  parts: PartResult<NamedPartBody>[];
  images: ImagePart[];
  end(status: number, produced: number): void;
}

/** What a fan-out's caller may add to its parts' run. */
export interface PartsOptions {
  /** Told when any part holds an account, or starts waiting for one (a stream starts its answer). */
  onPermit?: () => void;
  /** Gets each part's body as soon as it is in. */
  onPartRead?: (part: number, body: PartBody) => void;
  /** How long one wait of a part may last while no sibling holds a slot (ms); default ADMISSION_WAIT_MS. */
  waitMs?: number;
  /** A slot already taken for this request (an async job admitted by the queue): part 0 tries it first. */
  held?: HeldSlot;
}

/**
 * Runs `n` one-image parts (setting `n_mode: fanout`): each is planned, admitted per account and
 * failed over like a plain request, under the request's one key permit, and waits in the admission
 * queue for a capped account (see runFanOut). Each part's time in the queue is kept for its log line.
 */
export async function runParts(ctx: DispatchCore, opts: PartsOptions): Promise<FanOutRun> {
  const { deps, outcome } = ctx;
  const request = outcome.request;
  // The Codex upstream makes one image per call and the Codex CLI never sends `n`.
  const body = buildUpstreamBody({ ...request, n: 1, nGiven: false });
  const readOptions = { maxResponseBytes: deps.config.upstreamMaxResponseBytes, idleTimeoutMs: deps.config.upstreamBodyTimeoutMs, signal: ctx.clientSignal };
  // Hosted URLs are made once the answer is known (dispatchFanOut): read the parts as b64_json.
  const partRequest: typeof request = resolveHostedImages(deps, request) ? { ...request, responseFormat: 'b64_json' } : request;
  const waited = new Array<number>(request.n).fill(0);
  let held = opts.held;
  const parts = await runFanOut<NamedPartBody>({
    parts: request.n,
    signal: ctx.clientSignal,
    // Planned afresh for each try, so the parts spread over the accounts by load.
    failover: (waitForSlot) => {
      const input = { ...buildFailoverInput(ctx, planFor(outcome.key, ctx.snapshot, deps).candidates, body), waitForSlot };
      const first = held;
      held = undefined;
      return runFailover({ ...input, ...(opts.onPermit ? { onPermit: opts.onPermit } : {}), ...(first ? { held: first } : {}) });
    },
    waitForSlot: (blocked, hooks) =>
      waitForSlot(ctx, blocked, {
        signal: hooks.signal,
        timeoutMs: Number.POSITIVE_INFINITY,
        onTaken: hooks.onTaken,
        ...(opts.onPermit ? { onQueued: opts.onPermit } : {}),
        onWaited: (ms) => {
          waited[hooks.part] = (waited[hooks.part] ?? 0) + ms;
        },
      }),
    waitMs: opts.waitMs ?? deps.config.admissionWaitMs,
    consume: async (result, part) => {
      const read = await readPartBody(result, partRequest, readOptions);
      opts.onPartRead?.(part, read);
      return { accountName: result.candidate.account.name, body: read };
    },
  });
  const images = parts.flatMap((p) => (p.kind === 'done' && p.value.body.kind === 'image' ? [p.value.body] : []));
  const partOutcomes = parts.map((part, index) => toPartOutcome(part, waited[index] ?? 0, deps.now()));
  const end = (status: number, produced: number) => {
    const metrics: ResponseMetrics | null = combinePartMetrics(images.map((i) => i.metrics));
    outcome.ending = { kind: 'fanout', status, produced, metrics, parts: partOutcomes };
  };
  return { parts, images, end };
}

export type NoImage =
  | { kind: 'aborted' }
  | { kind: 'upstream_error'; part: Extract<PartBody, { kind: 'upstream_error' }> }
  | { kind: 'exhausted'; error: GatewayError };

/** Why no part produced an image: the client left, an upstream answered with an error, or the accounts ran out. */
export function explainNoImage(ctx: DispatchCore, parts: FanOutRun['parts']): NoImage {
  if (ctx.clientSignal.aborted) return { kind: 'aborted' };
  const upstreamError = parts.map((p) => (p.kind === 'done' ? p.value.body : null)).find((b) => b?.kind === 'upstream_error');
  if (upstreamError?.kind === 'upstream_error') return { kind: 'upstream_error', part: upstreamError };
  return {
    kind: 'exhausted',
    error: buildExhaustionError(
      parts.flatMap((p) => p.attempts),
      parts.flatMap((p) => p.skips),
      ctx.deps.now(),
    ),
  };
}

/**
 * `n > 1` as one JSON answer: 200 with what was produced (and headers saying how many) as soon as
 * one part has an image; none → the first part's upstream error, or the usual exhaustion error.
 */
export async function dispatchFanOut(ctx: DispatchContext): Promise<void> {
  const run = await runParts(ctx, {});
  if (run.images.length > 0) return run.end(200, await sendFanOutResponse(ctx.reply, await buildAnswerBodies(ctx, run), ctx.outcome.request.n));
  const why = explainNoImage(ctx, run.parts);
  switch (why.kind) {
    case 'aborted':
      ctx.reply.hijack(); // nobody is listening any more
      return run.end(499, 0);
    case 'upstream_error':
      return run.end(await sendPartError(ctx.reply, why.part), 0);
    case 'exhausted':
      run.end(why.error.status, 0);
      throw why.error;
  }
}

/** The parts' bodies as answered: with hosted URLs when the request gets them (a failed store ends the request as a 500). */
async function buildAnswerBodies(ctx: DispatchContext, run: FanOutRun): Promise<ImagePart['json'][]> {
  const bodies = run.images.map((i) => i.json);
  const hosted = resolveHostedImages(ctx.deps, ctx.outcome.request);
  if (!hosted) return bodies;
  try {
    return await Promise.all(bodies.map((body) => hostImagesResponse(body, hosted)));
  } catch (err) {
    logResultStoreFailure(ctx.reply.log, err);
    run.end(500, 0);
    throw err;
  }
}

/**
 * `n > 1` with `stream: true`: the SSE headers go out when the first part holds an account, and each
 * part's `*.completed` event follows as soon as it and every part before it are in (parts are read
 * whole, like the JSON fan-out). No image at all → the error, as a JSON answer if nothing was sent
 * yet, else as `event: error`.
 */
export async function dispatchStreamFanOut(ctx: DispatchContext): Promise<void> {
  const { deps, outcome } = ctx;
  const sse = createSseResponse(ctx.reply, deps.config.streamKeepaliveMs);
  const ready: Array<PartBody | null> = [];
  let next = 0;
  let events = 0;
  const flush = () => {
    for (; next < ready.length && ready[next] !== undefined; next += 1) {
      const body = ready[next];
      if (body?.kind !== 'image') continue;
      const text = buildPartEvents(
        body,
        `${STREAM_EVENT_PREFIX[outcome.request.endpoint]}.completed`,
        eventDefaultsOf(outcome.request),
        Math.floor(deps.now() / 1000),
      );
      events += text.count;
      sse.writeEvents(text.events);
    }
  };
  const run = await runParts(ctx, {
    onPermit: () => sse.start(),
    onPartRead: (part, body) => {
      ready[part] = body;
      flush();
    },
  });
  for (let part = 0; part < outcome.request.n; part += 1) ready[part] ??= null;
  flush();
  outcome.stream = { completedEvents: events, partialEvents: 0, path: 'images' };
  if (run.images.length > 0) {
    run.end(200, events);
    return sse.end();
  }
  const why = explainNoImage(ctx, run.parts);
  if (why.kind === 'aborted') {
    run.end(499, 0);
    if (!sse.started) ctx.reply.hijack();
    return sse.end();
  }
  const error = why.kind === 'upstream_error' ? buildUpstreamErrorResponse(why.part.status, why.part.info) : toOpenAIError(why.error);
  run.end(error.status, 0);
  if (sse.started) {
    sse.writeEvents(buildErrorEvent(error.body.error));
    return sse.end();
  }
  if (why.kind === 'upstream_error') return void (await sendPartError(ctx.reply, why.part));
  throw why.error;
}

function toPartOutcome(part: PartResult<NamedPartBody>, queueWaitMs: number, nowMs: number): PartOutcome {
  return { attempts: part.attempts, skips: part.skips, ending: partEnding(part, nowMs), queueWaitMs };
}

function partEnding(part: PartResult<NamedPartBody>, nowMs: number): TrackEnding {
  switch (part.kind) {
    case 'aborted':
      return { kind: 'client_aborted' };
    case 'exhausted':
      return { kind: 'exhausted', status: buildExhaustionError(part.attempts, part.skips, nowMs).status, skips: part.skips };
    case 'done': {
      const { accountName, body } = part.value;
      if (body.kind === 'upstream_error') return { kind: 'upstream', status: body.status, accountName, metrics: null, streamError: null };
      const streamError = body.kind === 'broken' ? body.streamError : null;
      return { kind: 'upstream', status: 200, accountName, metrics: body.metrics, streamError };
    }
  }
}
