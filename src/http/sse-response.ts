import type { FastifyReply } from 'fastify';
import { SSE_KEEPALIVE } from '../images/image-stream-events.js';

/** The answer to a `stream: true` request: SSE headers once admitted, events, keep-alive comments in between. */
export interface SseResponse {
  /** True once the 200 and its headers are out (from then on errors are `event: error`). */
  readonly started: boolean;
  /** Sends the headers (once) and starts the keep-alive; called when an account permit is held. */
  start(): void;
  /** Writes whole events (the keep-alive may follow them). */
  writeEvents(text: string): void;
  /**
   * Hands the stream to a producer that writes events in pieces: no keep-alive comment may land
   * inside one, so keep-alive stops for good.
   */
  stopKeepalive(): void;
  /** Ends the response. */
  end(): void;
}

/**
 * Starts nothing yet: the headers go out at `start()`, so everything refused before an account is
 * held (validation, key limits, no account free) is still a plain JSON error with its status.
 * While nothing else is written for `keepaliveMs`, a comment line goes out, so proxies and clients
 * with idle timeouts do not cut a generation that takes minutes.
 */
export function createSseResponse(reply: FastifyReply, keepaliveMs: number): SseResponse {
  const res = reply.raw;
  let started = false;
  let timer: NodeJS.Timeout | null = null;
  const stopKeepalive = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  res.once('close', stopKeepalive);
  return {
    get started() {
      return started;
    },
    start() {
      if (started) return;
      started = true;
      reply.hijack();
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        // nginx and compatible proxies: pass events on as they come.
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      timer = setInterval(() => {
        if (!res.destroyed) res.write(SSE_KEEPALIVE);
      }, keepaliveMs);
    },
    writeEvents(text) {
      if (res.destroyed) return;
      res.write(text);
      timer?.refresh();
    },
    stopKeepalive,
    end() {
      stopKeepalive();
      if (!res.destroyed && !res.writableEnded) res.end();
    },
  };
}
