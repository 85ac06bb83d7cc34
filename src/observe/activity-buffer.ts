import type { ImageLogEvent } from './image-log-event.js';

/** Request-log lines kept in memory for the console by default. */
export const ACTIVITY_CAPACITY = 2_000;

/** The most recent request-log lines of this process, for the console's Activity and Overview pages. */
export interface ActivityBuffer {
  write(event: ImageLogEvent): void;
  /** Every held line, newest first (a copy). */
  list(): ImageLogEvent[];
}

/**
 * A fixed-size ring of request-log events: the oldest line is dropped once `capacity` is reached.
 * It holds exactly what the request log holds (no prompt, image or secret exists in an event).
 */
export function createActivityBuffer(capacity: number = ACTIVITY_CAPACITY): ActivityBuffer {
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error('activity capacity must be a positive integer');
  const ring: ImageLogEvent[] = [];
  let next = 0;
  return {
    write(event) {
      if (ring.length < capacity) ring.push(event);
      else ring[next] = event;
      next = (next + 1) % capacity;
    },
    list() {
      const ordered = ring.length < capacity ? ring.slice() : [...ring.slice(next), ...ring.slice(0, next)];
      return ordered.reverse();
    },
  };
}

/** A request-log sink that also feeds `buffer` (the data plane hands this to the gateway app). */
export function teeRequestLog(log: { write(event: ImageLogEvent): void }, buffer: ActivityBuffer): { write(event: ImageLogEvent): void } {
  return {
    write(event) {
      buffer.write(event);
      log.write(event);
    },
  };
}
