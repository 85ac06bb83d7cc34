import type { CoordKeys } from './coord-keys.js';
import type { AdmitCandidate, AdmitResult, Lease, QueueTicket, TurnResult } from './coord-types.js';
import { CoordinationError } from './coordination-error.js';
import type { CoordScripts } from './define-coord-scripts.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { type AdmitReply, parseTurnReply } from './parse-coord-reply.js';

/** How long a key's queue keys outlive their last use (ms); tickets themselves lapse within the lease TTL. */
const QUEUE_MEMORY_MS = 86_400_000;

/** What the queue shares with its RedisCoordinator: its connection, keys, keeper and admission bookkeeping. */
export interface SharedQueueDeps {
  /** One script call through the coordinator's connection (fails fast in local mode). */
  call: (script: keyof CoordScripts, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;
  keys: CoordKeys;
  keeper: LeaseKeeper;
  leaseTtlMs: number;
  holderId: string;
  /** The account-take arguments an admission passes after its own: probe hold, last-start memory, health memory (ms). */
  takeArgs: readonly number[];
  nextLeaseId: () => string;
  /** Holds what an admission took (its lease renewed from now on), as `admit` does. */
  holdAdmitted: (reply: Extract<AdmitReply, { kind: 'admitted' | 'none' }>, accountLeaseId: string) => AdmitResult;
  /** Releases, once Redis is back, what an unanswered take may have taken. */
  forgetUnanswered: (candidates: readonly AdmitCandidate[], accountLeaseId: string) => void;
}

/**
 * The wait queue's order shared by every instance (see docs/architecture.md, "The shared wait
 * queue"): a waiter holds a ticket in its key's queue, renewed with the leases; its take is one
 * script call that admits it only in its turn (FIFO within the key, the key served longest ago
 * first across keys, only free accounts counting); leaving removes it.
 */
export class SharedQueue {
  constructor(private readonly deps: SharedQueueDeps) {}

  /** A new ticket for a waiter of `keyId` that can use `accountIds`; nothing is sent until it joins. */
  openTicket(keyId: string, accountIds: readonly string[]): QueueTicket {
    return { keyId, id: this.deps.nextLeaseId(), accountIds: [...accountIds] };
  }

  /** Puts a ticket at the back of its key's queue (one call; again is harmless) and renews it with the leases from now on. */
  async join(ticket: QueueTicket): Promise<void> {
    this.deps.keeper.add([ticketLease(ticket)]);
    const { keys, leaseTtlMs } = this.deps;
    const q = keys.queue(ticket.keyId);
    const args = [leaseTtlMs, ticket.id, ticket.keyId, JSON.stringify(ticket.accountIds), QUEUE_MEMORY_MS];
    await this.deps.call('cigJoin', [q.order, q.leases, q.accounts, keys.queueWaiting, keys.queueSequence], args);
  }

  /**
   * A waiter's take in the shared order, one script call: refused ('not_your_turn', nothing taken)
   * unless it is its key's turn and an account no key with an older turn waits for is free;
   * otherwise an admission as `admit` makes (without a key gate), which ends the ticket. A ticket
   * the queue lost (a Redis restart) joins again at the back.
   * @throws CoordinationError when Redis cannot answer.
   */
  async takeTurn(ticket: QueueTicket, candidates: readonly AdmitCandidate[]): Promise<TurnResult> {
    const { keys, leaseTtlMs } = this.deps;
    this.deps.keeper.add([ticketLease(ticket)]);
    const q = keys.queue(ticket.keyId);
    const scriptKeys = [q.order, q.leases, q.accounts, keys.queueWaiting, keys.queueTurns, keys.queueSequence, keys.cooldownIndex];
    const leaseId = this.deps.nextLeaseId();
    const args: (string | number)[] = [leaseTtlMs, leaseId, ticket.id, ticket.keyId, JSON.stringify(ticket.accountIds), keys.queuePrefix];
    args.push(...this.deps.takeArgs, QUEUE_MEMORY_MS, keys.freedChannel, `${this.deps.holderId}:`);
    for (const c of candidates) {
      scriptKeys.push(keys.leases('account', c.accountId), keys.lastStart('account', c.accountId), keys.health(c.accountId));
      args.push(c.accountId, c.cap, c.tokenFingerprint ?? '');
    }
    let reply: unknown;
    try {
      reply = await this.deps.call('cigTakeTurn', scriptKeys, args);
    } catch (err) {
      if (err instanceof CoordinationError && err.code === 'coordination_unavailable') this.deps.forgetUnanswered(candidates, leaseId);
      throw err;
    }
    const turn = parseTurnReply(reply);
    if (turn.kind === 'not_your_turn') return turn;
    this.deps.keeper.remove([ticketLease(ticket)]);
    return this.deps.holdAdmitted(turn, leaseId) as TurnResult;
  }

  /** Takes a ticket out of its key's queue (its waiter left) in one call; never throws, since a ticket left behind lapses within the lease TTL. */
  async leave(ticket: QueueTicket): Promise<void> {
    this.deps.keeper.remove([ticketLease(ticket)]);
    const { keys } = this.deps;
    const q = keys.queue(ticket.keyId);
    const scriptKeys = [q.order, q.leases, q.accounts, keys.queueWaiting];
    await this.deps.call('cigLeave', scriptKeys, [ticket.id, ticket.keyId, keys.freedChannel]).catch(() => undefined);
  }
}

/** A ticket as the lease the keeper renews (its expiry in the key's `queue` lease set). */
const ticketLease = (ticket: QueueTicket): Lease => ({ scope: 'queue', ownerId: ticket.keyId, id: ticket.id });
