/**
 * Plays a behaviour on a checked `POST /responses` request as an SSE stream: the
 * success stream, the text-only answer, or a success stream interrupted at a StreamPoint by
 * `response.failed`, an `error` event, a cut connection or a stall. Timing: `delayMs` before the
 * headers, `firstEventDelayMs` before the first event, `eventIntervalMs` before each later one.
 * Stops quietly (recording `client_closed`) as soon as the client goes away.
 */
import type { ServerResponse } from 'node:http';
import type { Behavior, StreamBehavior, SuccessOptions } from './behaviors.js';
import { waitUnlessClosed, writeChunk } from './image-body.js';
import { buildErrorEvent, buildFailedEvent, buildImageStream, buildTextStream, streamPointIndex, type SseEvent, type StreamInput } from './responses-stream.js';
import type { RecordedBody } from './wire-checks.js';

/** How a `/responses` stream went, as recorded: the event types written, in order, and how it ended (null while open). */
export interface RecordedStream {
  events: string[];
  /** `finished`: the fake ended the response; `cut`: the fake destroyed the connection; `client_closed`: the client left first. */
  end: 'finished' | 'cut' | 'client_closed' | null;
}

/** The part of a recorded request the stream reads and updates. */
export interface StreamRecord {
  seq: number;
  body: RecordedBody | null;
  status: number | null;
  stream: RecordedStream | null;
}

/** The behaviours a `/responses` request plays as a stream. */
export type StreamPlayable = Extract<Behavior, { kind: 'success' | 'stallBody' }> | StreamBehavior;

export interface PlayContext {
  res: ServerResponse;
  record: StreamRecord;
  /** What `stallBody` streams (as for the image endpoints). */
  defaultSuccess: SuccessOptions;
  chunkBytes: number;
  nowMs: number;
}

const DEFAULT_ERROR = { code: 'server_error', message: 'An error occurred while processing your request.' } as const;

/** What the host model says when the request offers no image_generation tool. */
const NO_TOOL_TEXT = 'I can only answer in text here.';

/** The events to send, an optional pause before one of them, and whether the connection is cut after the last. */
interface StreamPlan {
  options: SuccessOptions;
  events: SseEvent[];
  pause: { beforeIndex: number; ms: number } | null;
  cut: boolean;
}

function streamInput(ctx: PlayContext, options: SuccessOptions): StreamInput {
  const fields = ctx.record.body?.fields ?? {};
  return {
    id: ctx.record.seq,
    createdAtSeconds: Math.floor(ctx.nowMs / 1000),
    model: typeof fields.model === 'string' ? fields.model : '',
    toolChoice: fields.tool_choice ?? null,
    tool: ctx.record.body?.tool ?? null,
    options,
  };
}

/** Turns a behaviour into the plan of its stream. */
function planStream(behavior: StreamPlayable, ctx: PlayContext): StreamPlan {
  const options = behavior.kind === 'stallBody' ? ctx.defaultSuccess : behavior.options;
  const input = streamInput(ctx, options);
  if (behavior.kind === 'textOnly' || input.tool === null) {
    const text = behavior.kind === 'textOnly' ? behavior.text : NO_TOOL_TEXT;
    return { options, events: buildTextStream(input, text), pause: null, cut: false };
  }
  const events = buildImageStream(input);
  const at = streamPointIndex(events, behavior.kind === 'success' || behavior.kind === 'stallBody' ? 0 : (behavior.options.at ?? 0));
  switch (behavior.kind) {
    case 'success':
      return { options, events, pause: null, cut: false };
    case 'stallBody':
    case 'stallStream':
      return { options, events, pause: { beforeIndex: at, ms: behavior.stallMs }, cut: false };
    case 'streamCut':
      return { options, events: events.slice(0, at), pause: null, cut: true };
    case 'responseFailed': {
      const error = { code: behavior.options.code ?? DEFAULT_ERROR.code, message: behavior.options.message ?? DEFAULT_ERROR.message };
      return { options, events: [...events.slice(0, at), buildFailedEvent(input, at, error)], pause: null, cut: false };
    }
    case 'streamError': {
      const error = { code: behavior.options.code ?? DEFAULT_ERROR.code, message: behavior.options.message ?? DEFAULT_ERROR.message };
      return { options, events: [...events.slice(0, at), buildErrorEvent(at, error)], pause: null, cut: false };
    }
    default:
      return behavior satisfies never;
  }
}

/** Writes one event in `chunkBytes` slices; false once the client is gone. */
async function writeEvent(res: ServerResponse, event: SseEvent, chunkBytes: number): Promise<boolean> {
  for (const part of event.parts) {
    for (let at = 0; at < part.length; at += chunkBytes) {
      if (!(await writeChunk(res, part.subarray(at, at + chunkBytes)))) return false;
    }
  }
  return true;
}

/** The wait before event `index`: the plan's pause (if there) plus the first-event delay or the interval. */
function waitBefore(plan: StreamPlan, index: number): number {
  const pause = plan.pause?.beforeIndex === index ? plan.pause.ms : 0;
  const gap = index === 0 ? (plan.options.firstEventDelayMs ?? 0) : (plan.options.eventIntervalMs ?? 0);
  return pause + gap;
}

/**
 * Destroys the connection once the bytes written so far have left (an immediate destroy would drop
 * the last events still queued in the socket): the client gets every event, then no terminator.
 */
function destroyAfterFlush(res: ServerResponse): Promise<void> {
  const socket = res.socket;
  if (!socket || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.write('', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Sends the 200 headers and the planned events; ends, or cuts, the response. */
async function writePlan(plan: StreamPlan, ctx: PlayContext, stream: RecordedStream): Promise<void> {
  const { res } = ctx;
  for (const [index, event] of plan.events.entries()) {
    const waitMs = waitBefore(plan, index);
    if ((waitMs > 0 && !(await waitUnlessClosed(res, waitMs))) || !(await writeEvent(res, event, ctx.chunkBytes))) {
      stream.end = 'client_closed';
      return;
    }
    stream.events.push(event.type);
  }
  if (plan.cut) {
    stream.end = 'cut';
    await destroyAfterFlush(res);
    return;
  }
  stream.end = 'finished';
  res.end();
}

/** Plays `behavior` on `/responses`: waits `delayMs`, sends 200 `text/event-stream`, then the planned events. */
export async function playStream(behavior: StreamPlayable, ctx: PlayContext): Promise<void> {
  const plan = planStream(behavior, ctx);
  if (plan.options.delayMs && !(await waitUnlessClosed(ctx.res, plan.options.delayMs))) return;
  const stream: RecordedStream = { events: [], end: null };
  ctx.record.status = 200;
  ctx.record.stream = stream;
  ctx.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  ctx.res.flushHeaders();
  await writePlan(plan, ctx, stream);
}
