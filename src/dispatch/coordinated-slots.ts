import type { AdmitResult, BudgetTriple, KeyGate, Lease, QueueTicket, SharedBudgetAsk, SharedBudgetVerdict } from '../coord/coord-types.js';
import { splitCapAcrossInstances } from '../coord/local-cap.js';
import type { RedisCoordinator } from '../coord/redis-coordinator.js';
import { buildWaitTicket, type WaitTicket } from './wait-ticket.js';
import type { AccountLimiter } from '../limits/account-limiter.js';
import type { KeyAdmission, KeyLimiter, KeyLimits, KeyLimitReason } from '../limits/key-limiter.js';
import { createPermit, type Permit } from '../limits/permit.js';
import { type AccountCooldown, type AccountHealth, COOLDOWN_SKIP_CLASS, fingerprintToken } from './account-health.js';
import { LearnedCooldowns } from './learned-cooldowns.js';
import { LapseAlarm, LeaseReleaseBatch } from './lease-timing.js';
import type { AttemptRecord, SkipClass } from './exhaustion.js';
import type { Candidate } from './plan-candidates.js';
import { takeLocalSlot, type SlotTake } from './run-failover.js';
import { classifyHealthReport } from '../coord/health-verdict.js';

/** Admits without a cap: how this process counts its own share while Redis holds the real limits. */
const UNCAPPED = Number.MAX_SAFE_INTEGER;
const NO_KEY_GATES: KeyLimits = { maxConcurrency: null, minStartIntervalMs: null };

export interface CoordinatedSlotsOptions {
  keyLimiter: KeyLimiter;
  accountLimiter: AccountLimiter;
  health: AccountHealth | undefined;
  coordinator: RedisCoordinator;
  /** Data planes alive now (the instance registry), at least 1: local mode splits each cap among them. */
  liveInstances: () => number;
  now: () => number;
  /** A report to Redis that failed (it never fails a request). */
  onReportError?: (err: unknown) => void;
  /** Wakes requests waiting for these accounts (the admission queue's `notify`): told when a blocking place may have lapsed. */
  wake?: (accountIds: string[]) => void;
}

/** A take with the key's gate on it: refused by the key, or the take plus the key's place (when a gate was given). */
export type GatedTake =
  | { kind: 'key_refused'; reason: KeyLimitReason; inFlight: number; retryAfterMs: number }
  | { kind: 'take'; take: SlotTake; keyPermit: Permit | null };

/**
 * A request's key place and account slots with REDIS_URL (without it, dispatch uses this process's
 * limiters and account health directly, as it always did). In shared mode, one script call
 * plans and takes (the key's gates on a request's first take, the least-loaded free account not
 * cooling down, its re-probe), on the whole deployment's load; the places are leases the
 * coordinator renews, each mirrored by an uncapped local permit so this process's own views (the
 * in-flight gauge, planning order) and a later fall-back count them. Whenever Redis cannot answer
 * (local mode, or a call that fails), the same call is served by the local limiters with every cap
 * split among the live data planes, so a request never fails because Redis is down.
 */
export class CoordinatedSlots {
  /**
   * Accounts admitted with a health record in Redis, by how many such attempts are under way: a
   * success on them is reported (it clears the record); on any other account it would change
   * nothing and is not sent, so a healthy account costs a request no call beyond take and release.
   */
  private readonly recorded = new Map<string, number>();

  private readonly learned: LearnedCooldowns;
  private readonly releases: LeaseReleaseBatch;
  private readonly lapses: LapseAlarm;

  constructor(private readonly opts: CoordinatedSlotsOptions) {
    this.learned = new LearnedCooldowns(opts.now);
    this.releases = new LeaseReleaseBatch((leases) => opts.coordinator.release(leases));
    this.lapses = new LapseAlarm(opts.wake, opts.now);
  }

  /** A key place on its own (async jobs, fan-out): a gated take over no account, one script call in shared mode. */
  async admitKey(keyId: string, limits: KeyLimits): Promise<KeyAdmission> {
    const gated = await this.takeGated([], () => null, { keyId, maxConcurrency: limits.maxConcurrency, minStartIntervalMs: limits.minStartIntervalMs });
    if (gated.kind === 'key_refused') return { admitted: false, reason: gated.reason, inFlight: gated.inFlight, retryAfterMs: gated.retryAfterMs };
    // A gated take that the key did not refuse always holds the key's place.
    if (!gated.keyPermit) throw new Error('a gated take returned no key place');
    return { admitted: true, permit: gated.keyPermit };
  }

  /**
   * One take over `candidates` (those a pass has not tried), with the key's gate when given (a
   * request's first take folds its key admission into the same call). `claim` is account health's
   * claim, used by the local path; the shared script claims by itself.
   */
  async takeGated(candidates: readonly Candidate[], claim: (c: Candidate) => SkipClass | null, gate: KeyGate | null): Promise<GatedTake> {
    const { coordinator } = this.opts;
    if (coordinator.mode === 'shared') {
      const input = { candidates: candidates.map(toAdmitCandidate), ...(gate ? { keyGate: gate } : {}) };
      const result = await coordinator.admit(input).catch(() => null);
      if (result) return this.fromShared(result, candidates, gate);
    }
    let keyPermit: Permit | null = null;
    if (gate) {
      const key = this.opts.keyLimiter.admit(gate.keyId, this.localKeyLimits(gate));
      if (!key.admitted) return { kind: 'key_refused', reason: key.reason, inFlight: key.inFlight, retryAfterMs: key.retryAfterMs };
      keyPermit = key.permit;
    }
    return { kind: 'take', take: this.takeLocal(candidates, claim), keyPermit };
  }

  /** A take without a key gate, as a failover attempt after the first makes (waiters take through their ticket). */
  async take(candidates: readonly Candidate[], claim: (c: Candidate) => SkipClass | null): Promise<SlotTake> {
    const gated = await this.takeGated(candidates, claim, null);
    // Without a gate the key cannot refuse.
    return gated.kind === 'take' ? gated.take : { passed: [], slot: null };
  }

  /**
   * Tells account health how an attempt ended: every instance's in shared mode (Redis holds the one
   * health, so a clear or a recovery anywhere counts everywhere), this process's in local mode.
   * Settles once Redis has the report (never rejects): the attempt loop waits for a failure's.
   */
  async report(attempt: AttemptRecord, candidate: Candidate): Promise<void> {
    const token = candidate.credentials.accessToken;
    const { coordinator } = this.opts;
    if (coordinator.mode !== 'shared') {
      this.opts.health?.report(attempt, token);
      return;
    }
    this.learned.forget([attempt.accountId]);
    const hadRecord = this.takeRecorded(attempt.accountId);
    const report = { status: attempt.status, errorClass: attempt.errorClass, retryAfterSeconds: attempt.retryAfterSeconds };
    if (!hadRecord && classifyHealthReport(report).kind === 'success') return;
    await coordinator.report(attempt.accountId, report, fingerprintToken(token)).catch((err: unknown) => this.opts.onReportError?.(err));
  }

  /** Whether an attempt under way on the account was admitted with a health record (and counts it off). */
  private takeRecorded(accountId: string): boolean {
    const n = this.recorded.get(accountId) ?? 0;
    if (n === 0) return false;
    if (n === 1) this.recorded.delete(accountId);
    else this.recorded.set(accountId, n - 1);
    return true;
  }

  /**
   * The account's cooldown as planning should see it (a pure read): in shared mode what Redis named
   * in a recent take (LearnedCooldowns), in local mode this process's account health.
   */
  peekCooldown(accountId: string, accessToken: string): AccountCooldown | null {
    if (this.opts.coordinator.mode !== 'shared') return this.opts.health?.peekCooldown(accountId, accessToken) ?? null;
    return this.learned.peek(accountId, accessToken);
  }

  /**
   * Every instance's running cooldowns from Redis, on this process's clock (for status pages: two
   * round trips); null while Redis is out of reach, when this process's own account health applies.
   */
  async listCooldowns(): Promise<AccountCooldown[] | null> {
    const { coordinator } = this.opts;
    if (coordinator.mode !== 'shared') return null;
    const read = await coordinator.readCooldowns().catch(() => null);
    if (!read) return null;
    const offset = this.opts.now() - read.serverNowMs;
    return read.cooldowns.map((c) => ({ accountId: c.accountId, cause: c.cause, untilMs: c.untilMs + offset, failures: c.failures, capped: c.capped }));
  }

  /** Forgets what Redis said of these accounts' cooldowns (a release or a clear was announced for them). */
  forgetCooldowns(accountIds: readonly string[]): void {
    this.learned.forget(accountIds);
  }

  /** Ends an account's cooldown for every instance (operator action); false when it had none, or Redis is out of reach. */
  async clearCooldown(accountId: string): Promise<boolean> {
    this.learned.forget([accountId]);
    return this.opts.coordinator.clearCooldown(accountId).catch((err: unknown) => {
      this.opts.onReportError?.(err);
      return false;
    });
  }

  /** The local path (Redis out of reach): each cap split among the live instances. */
  private takeLocal(candidates: readonly Candidate[], claim: (c: Candidate) => SkipClass | null): SlotTake {
    const n = this.opts.liveInstances();
    return takeLocalSlot(candidates, this.opts.accountLimiter, claim, (c) => splitCapAcrossInstances(c.account.imageConcurrency, n));
  }

  private fromShared(result: AdmitResult, candidates: readonly Candidate[], gate: KeyGate | null): GatedTake {
    if (result.kind === 'key_refused') return { kind: 'key_refused', reason: result.reason, inFlight: result.inFlight, retryAfterMs: result.retryAfterMs };
    const keyPermit = gate ? this.keyPermit(gate.keyId, result.keyLease) : null;
    const byId = new Map(candidates.map((c) => [c.account.id, c]));
    if (result.kind === 'admitted') {
      const candidate = byId.get(result.accountId);
      if (!candidate) throw new Error(`the coordinator admitted an account it was not offered: ${result.accountId}`);
      // The local permit is uncapped: it always succeeds, and only counts.
      const local = this.opts.accountLimiter.tryAcquire(candidate.account.id, UNCAPPED);
      const lease = result.accountLease;
      if (result.healthRecorded) this.recorded.set(candidate.account.id, (this.recorded.get(candidate.account.id) ?? 0) + 1);
      const permit = createPermit(() => {
        local?.release();
        this.releases.release(lease);
      });
      return { kind: 'take', take: { passed: [], slot: { candidate, permit, claimed: true } }, keyPermit };
    }
    if (result.nextLapseMs !== null) this.lapses.at(result.blockedAccountIds, this.opts.now() + (result.nextLapseMs - result.serverNowMs));
    const passed: SlotTake['passed'] = [];
    for (const id of result.blockedAccountIds) {
      const candidate = byId.get(id);
      if (candidate) passed.push({ candidate, skip: 'concurrency_blocked' });
    }
    for (const cooling of result.cooling) {
      const candidate = byId.get(cooling.accountId);
      if (!candidate) continue;
      passed.push({ candidate, skip: COOLDOWN_SKIP_CLASS[cooling.cause] });
      // Believed here for a moment, on this process's clock, so planning skips it and explains the wait.
      const untilMs = this.opts.now() + Math.max(0, cooling.untilMs - result.serverNowMs);
      this.learned.learn(cooling.accountId, cooling.cause, untilMs, candidate.credentials.accessToken);
    }
    return { kind: 'take', take: { passed, slot: null }, keyPermit };
  }

  /** A key place held in Redis (or none: a key without gates), mirrored by an ungated local one. */
  private keyPermit(keyId: string, lease: Lease | null): Permit {
    const local = this.opts.keyLimiter.admit(keyId, NO_KEY_GATES);
    return createPermit(() => {
      if (local.admitted) local.permit.release();
      if (lease) this.releases.release(lease);
    });
  }

  /** A key's gates in local mode: its concurrency split among the live instances, its interval stretched by their number. */
  private localKeyLimits(limits: KeyLimits): KeyLimits {
    const n = Math.max(1, Math.floor(this.opts.liveInstances()) || 1);
    if (n === 1) return limits;
    return {
      maxConcurrency: limits.maxConcurrency ? splitCapAcrossInstances(limits.maxConcurrency, n) : limits.maxConcurrency,
      minStartIntervalMs: limits.minStartIntervalMs ? limits.minStartIntervalMs * n : limits.minStartIntervalMs,
    };
  }

  /**
   * A ticket for a waiter of `keyId` over `blocked` (each at its cap). In shared mode its takes
   * follow the order every instance shares (FIFO within the key, the key served longest ago first
   * across keys); when Redis cannot answer, a take is the local one with split caps, and the local
   * queue alone orders.
   */
  openTicket(keyId: string, blocked: readonly Candidate[], claim: (c: Candidate) => SkipClass | null): WaitTicket {
    const { coordinator } = this.opts;
    const ticket = coordinator.queue.openTicket(
      keyId,
      blocked.map((c) => c.account.id),
    );
    const isShared = () => coordinator.mode === 'shared';
    return buildWaitTicket({ queue: coordinator.queue, isShared, ticket, takeInTurn: () => this.takeInTurn(ticket, blocked, claim) });
  }

  private async takeInTurn(ticket: QueueTicket, blocked: readonly Candidate[], claim: (c: Candidate) => SkipClass | null): Promise<SlotTake['slot']> {
    const { coordinator } = this.opts;
    const turn = coordinator.mode === 'shared' ? await coordinator.queue.takeTurn(ticket, blocked.map(toAdmitCandidate)).catch(() => null) : null;
    if (!turn) return this.takeLocal(blocked, claim).slot;
    if (turn.kind === 'not_your_turn') {
      // The ticket going first may belong to a killed holder: its lapse announces nothing.
      if (turn.untilMs !== null) this.lapses.at(ticket.accountIds, this.opts.now() + (turn.untilMs - turn.serverNowMs));
      return null;
    }
    const shared = this.fromShared(turn, blocked, null);
    return shared.kind === 'take' ? shared.take.slot : null;
  }

  /** Reserves against a key's budget shared by every instance; null when Redis cannot answer (the caller then judges on its own view). */
  async reserveBudget(ask: SharedBudgetAsk): Promise<SharedBudgetVerdict | null> {
    const { coordinator } = this.opts;
    if (coordinator.mode !== 'shared') return null;
    return coordinator.budgets.reserve(ask).catch(() => null);
  }

  /** Ends a shared reservation with what its request used; a failure is reported, never thrown (the settle is sent again once Redis answers). */
  settleBudget(ask: Pick<SharedBudgetAsk, 'keyId' | 'periodStartMs' | 'resetAtMs'>, holdId: string, used: BudgetTriple): void {
    this.opts.coordinator.budgets.settle(ask, holdId, used).catch((err: unknown) => this.opts.onReportError?.(err));
  }

  /** Stops the lapse alarm (shutdown). */
  stop(): void {
    this.lapses.stop();
  }

  /** Resolves once every release already asked for has been answered (or held back for Redis's return). */
  settle(): Promise<void> {
    return this.releases.settle();
  }
}

const toAdmitCandidate = (c: Candidate) => ({
  accountId: c.account.id,
  cap: c.account.imageConcurrency,
  tokenFingerprint: c.credentials.accessToken ? fingerprintToken(c.credentials.accessToken) : null,
});
