import type { QueueTicket } from '../coord/coord-types.js';
import type { SharedQueue } from '../coord/shared-queue.js';
import type { SlotTake } from './run-failover.js';

/**
 * A waiter's place in its key's queue shared by every instance (REDIS_URL): `join` when it enters
 * the local queue, `take` for each of its tries, `leave` when it gives up (not after a take, which
 * ended it).
 */
export interface WaitTicket {
  /** Puts the ticket in the shared order; best effort (while Redis is out of reach the local queue alone orders). */
  join(): void;
  /** A take in the shared order; null while it is not this waiter's turn or nothing is free. */
  take(): Promise<SlotTake['slot']>;
  /** Leaves the shared order at once; best effort (the ticket lapses within the lease TTL anyway). */
  leave(): void;
}

export interface WaitTicketOptions {
  queue: SharedQueue;
  /** True while Redis serves: a join in local mode is not even tried. */
  isShared: () => boolean;
  ticket: QueueTicket;
  /** One take for this ticket (CoordinatedSlots: its turn in shared mode, else the local take). */
  takeInTurn: () => Promise<SlotTake['slot']>;
}

/** Builds a waiter's ticket over the shared queue. */
export function buildWaitTicket(opts: WaitTicketOptions): WaitTicket {
  const { queue, ticket } = opts;
  return {
    join: () => {
      if (opts.isShared()) queue.join(ticket).catch(() => undefined);
    },
    take: opts.takeInTurn,
    leave: () => void queue.leave(ticket),
  };
}
