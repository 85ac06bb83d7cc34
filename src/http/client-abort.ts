import type { FastifyReply } from 'fastify';

/**
 * An AbortSignal that fires when the client goes away before the response is complete. The response's
 * 'close' event is the reliable signal (the request's own 'close' fires once its body is read).
 * `dispose()` removes the listener.
 */
export function watchClientAbort(reply: FastifyReply): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
  };
  res.once('close', onClose);
  return { signal: controller.signal, dispose: () => res.removeListener('close', onClose) };
}
