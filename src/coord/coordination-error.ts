/**
 * `coordination_unavailable`: Redis could not be reached or could not serve (no connection, no answer
 * within the command timeout, out of memory, loading, read-only): the caller uses local limits.
 * `coordination_failed`: Redis answered with an error no outage explains (a script fault).
 */
export type CoordinationErrorCode = 'coordination_unavailable' | 'coordination_failed';

/** A coordinator call that did not complete; the caller falls back to local limits for this request. */
export class CoordinationError extends Error {
  override name = 'CoordinationError';

  constructor(
    readonly code: CoordinationErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Server replies that mean Redis cannot serve right now, rather than a fault in the call. */
const UNAVAILABLE_REPLIES = /^(OOM|LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * Wraps what an ioredis call threw. Anything but a server reply (timeouts, a closed or unwritable
 * connection) is an outage, and so are the replies of a Redis that cannot serve.
 */
export function toCoordinationError(err: unknown): CoordinationError {
  if (err instanceof CoordinationError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const isReply = err instanceof Error && err.name === 'ReplyError';
  const code = !isReply || UNAVAILABLE_REPLIES.test(message) ? 'coordination_unavailable' : 'coordination_failed';
  return new CoordinationError(code, `redis: ${message}`, { cause: err });
}
