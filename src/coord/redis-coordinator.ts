import { randomBytes } from 'node:crypto';
import { ConfigError } from '../config/config.js';
import { DEFAULT_RETRY_AFTER_MS } from '../errors/retry-hint.js';
import type { CoordinationMode, ModeChange } from './connection-mode.js';
import { type CoordKeys, buildCoordKeys } from './coord-keys.js';
import type { AccountLoad, AdmitInput, AdmitResult, HealthPolicy, HealthReport, KeyGate, Lease, SharedCooldown } from './coord-types.js';
import { CoordinationError } from './coordination-error.js';
import { type CoordScripts, defineCoordScripts } from './define-coord-scripts.js';
import { classifyHealthReport } from './health-verdict.js';
import { LeaseKeeper } from './lease-keeper.js';
import { type AdmitReply, parseAdmitReply, parseCooldownFields, parseLoadReply, parseTimeReply } from './parse-coord-reply.js';
import { RedisLink } from './redis-link.js';
import { SharedBudgets } from './shared-budgets.js';
import { SharedQueue } from './shared-queue.js';

/** How long an account's last start is kept (ms): load spreading only compares recent starts. */
const LAST_START_MEMORY_MS = 86_400_000;
/** How long an account's health outlives its cooldown (ms): its failure count, so backoff keeps growing across a quiet spell. */
const HEALTH_MEMORY_MS = 86_400_000;

/** Construction options; the first four come from config (REDIS_URL, REDIS_KEY_PREFIX, LEASE_TTL_MS, REDIS_COMMAND_TIMEOUT_MS). */
export interface RedisCoordinatorOptions {
  url: string;
  keyPrefix: string;
  /** A lease lapses this long after its last renewal; holders renew every third of it. */
  leaseTtlMs: number;
  /** Longest wait for any answer (ms): a request never hangs on Redis. */
  commandTimeoutMs: number;
  health: HealthPolicy;
  /** Names this process in lease ids (e.g. its instance id); random when absent. */
  holderId?: string;
  /** Longest pause between reconnection attempts (ms; default RECONNECT_MAX_DELAY_MS): Redis back means shared again within about this. */
  reconnectMaxDelayMs?: number;
  /** How long a budget reservation holds without being settled (ms; default BUDGET_HOLD_MS). */
  budgetHoldMs?: number;
}

/** A freed-places subscription: `ready` settles once Redis confirmed it. */
export interface FreedSubscription {
  ready: Promise<void>;
  unsubscribe(): void;
}

/**
 * Limits shared by every gateway process through one Redis: account and key places held as leases,
 * last starts, account health. Each admission, release and report is one atomic script call on
 * Redis's clock. Every call fails fast with a CoordinationError when Redis is out of reach (in `local`
 * mode without trying; otherwise within the command timeout), and `mode` with `onModeChange` tells
 * the caller when to use its local limits instead.
 */
export class RedisCoordinator {
  readonly holderId: string;
  private readonly link: RedisLink;
  private readonly scripts: CoordScripts;
  private readonly keys: CoordKeys;
  private readonly keeper: LeaseKeeper;
  /** Releases an outage held back, sent once Redis is back (those younger than a lease TTL). */
  private pendingReleases: { lease: Lease; atMs: number }[] = [];
  private sequence = 0;
  /** The wait queue's order shared by every instance: tickets, turns. */
  readonly queue: SharedQueue;
  /** Keys' budgets shared by every instance: reservations and what each period used. */
  readonly budgets: SharedBudgets;

  constructor(private readonly options: RedisCoordinatorOptions) {
    if (!(options.leaseTtlMs >= 3)) throw new ConfigError('LEASE_TTL_MS must be at least 3');
    if (!(options.commandTimeoutMs >= 1)) throw new ConfigError('REDIS_COMMAND_TIMEOUT_MS must be at least 1');
    this.holderId = options.holderId ?? randomBytes(6).toString('hex');
    this.keys = buildCoordKeys(options.keyPrefix);
    this.link = new RedisLink({
      url: options.url,
      commandTimeoutMs: options.commandTimeoutMs,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs,
      probeKey: `${options.keyPrefix}probe:${this.holderId}`,
      freedChannel: this.keys.freedChannel,
      onShared: () => {
        this.flushPendingReleases();
        this.budgets.retryUnsettled();
      },
    });
    this.scripts = defineCoordScripts(this.link.client);
    this.keeper = new LeaseKeeper((leases) => this.renew(leases), Math.max(1, Math.floor(options.leaseTtlMs / 3)));
    this.keeper.start();
    this.queue = new SharedQueue({
      call: (script, keys, args) => this.link.call(() => this.scripts[script](keys, args)),
      keys: this.keys,
      keeper: this.keeper,
      leaseTtlMs: options.leaseTtlMs,
      holderId: this.holderId,
      takeArgs: [options.health.probeHoldMs, LAST_START_MEMORY_MS, HEALTH_MEMORY_MS],
      nextLeaseId: () => this.nextLeaseId(),
      holdAdmitted: (reply, accountLeaseId) => this.holdAdmitted(reply, undefined, { account: accountLeaseId, key: '' }),
      forgetUnanswered: (candidates, accountLeaseId) => this.forgetUnanswered({ candidates }, { account: accountLeaseId, key: '' }),
    });
    this.budgets = new SharedBudgets({
      call: (script, keys, args) => this.link.call(() => this.scripts[script](keys, args)),
      keys: this.keys.budget,
      holderId: this.holderId,
      ...(options.budgetHoldMs === undefined ? {} : { holdMs: options.budgetHoldMs }),
    });
  }

  /** `shared` while Redis serves; `local` before the first connection and during an outage. */
  get mode(): CoordinationMode {
    return this.link.mode;
  }

  /** Tells `listener` each mode change once (for one log line and the metric); returns its removal. */
  onModeChange(listener: (change: ModeChange) => void): () => void {
    return this.link.onModeChange(listener);
  }

  /** Resolves true once shared, false if `timeoutMs` pass first (a process may start in local mode). */
  async waitUntilShared(timeoutMs: number): Promise<boolean> {
    if (this.mode === 'shared') return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const stop = this.onModeChange((change) => change.mode === 'shared' && done(true));
      const done = (shared: boolean) => {
        clearTimeout(timer);
        stop();
        resolve(shared);
      };
    });
  }

  /**
   * Plans and acquires in one script call: the key's gates (when `keyGate` is given), then the
   * least-loaded candidate not cooling down and under its cap. The leases it returns are renewed by
   * this coordinator until released.
   * @throws CoordinationError when Redis cannot answer. Nothing is held then: an admission whose
   * answer was lost is released once Redis is back (and lapses within the lease TTL if it never is).
   */
  async admit(input: AdmitInput): Promise<AdmitResult> {
    this.link.assertShared();
    const gate = input.keyGate;
    const ids = { account: this.nextLeaseId(), key: gate ? this.nextLeaseId() : '' };
    const { cooldownIndex } = this.keys;
    const keys = [gate ? this.keys.leases('key', gate.keyId) : cooldownIndex, gate ? this.keys.lastStart('key', gate.keyId) : cooldownIndex, cooldownIndex];
    const { leaseTtlMs, health } = this.options;
    const args: (string | number)[] = [leaseTtlMs, ids.account, ids.key, gate?.maxConcurrency || 0, gate?.minStartIntervalMs || 0];
    args.push(health.probeHoldMs, DEFAULT_RETRY_AFTER_MS, LAST_START_MEMORY_MS, HEALTH_MEMORY_MS);
    for (const c of input.candidates) {
      keys.push(this.keys.leases('account', c.accountId), this.keys.lastStart('account', c.accountId), this.keys.health(c.accountId));
      args.push(c.accountId, c.cap, c.tokenFingerprint ?? '');
    }
    let reply: unknown;
    try {
      reply = await this.link.call(() => this.scripts.cigAdmit(keys, args));
    } catch (err) {
      if (err instanceof CoordinationError && err.code === 'coordination_unavailable') this.forgetUnanswered(input, ids);
      throw err;
    }
    return this.holdAdmitted(parseAdmitReply(reply), gate, ids);
  }

  /**
   * Frees leases in one call and announces the freed accounts on the freed channel. Never throws:
   * false when Redis did not take it, in which case the release is sent again once Redis is back
   * (and the leases lapse within their TTL if it never is).
   */
  async release(leases: readonly Lease[]): Promise<boolean> {
    if (leases.length === 0) return true;
    this.keeper.remove(leases);
    const atMs = Date.now();
    return this.sendRelease(leases.map((lease) => ({ lease, atMs })));
  }

  /**
   * Renews leases (by default every lease this process holds) in one call. Returns how many were
   * gone and were put back: a Redis restart loses them while their requests still run.
   */
  async renew(leases: readonly Lease[] = this.keeper.list()): Promise<number> {
    if (leases.length === 0) return 0;
    const keys = leases.map((l) => this.keys.leases(l.scope, l.ownerId));
    const reply = await this.link.call(() => this.scripts.cigRenew(keys, [this.options.leaseTtlMs, ...leases.map((l) => l.id)]));
    return Number(reply);
  }

  /** Records how an attempt on an account ended (account health, shared). Client aborts and busy skips say nothing and cost no call. */
  async report(accountId: string, report: HealthReport, tokenFingerprint: string | null): Promise<void> {
    const verdict = classifyHealthReport(report);
    if (verdict.kind === 'ignore') return;
    const { rateLimitCapMs, backoffBaseMs, backoffMaxMs } = this.options.health;
    const askedMs = verdict.kind === 'rate_limited' ? verdict.askedMs : 0;
    const keys = [this.keys.health(accountId), this.keys.cooldownIndex];
    const args = [accountId, verdict.kind, askedMs, tokenFingerprint ?? '', rateLimitCapMs, backoffBaseMs, backoffMaxMs, HEALTH_MEMORY_MS];
    await this.link.call(() => this.scripts.cigReport(keys, args));
  }

  /** Ends an account's cooldown now and forgets its failures (operator action), waking waiters; false when it had none. */
  async clearCooldown(accountId: string): Promise<boolean> {
    const keys = [this.keys.health(accountId), this.keys.cooldownIndex];
    const reply = await this.link.call(() => this.scripts.cigClear(keys, [accountId, this.keys.freedChannel, JSON.stringify([accountId])]));
    return reply === 1;
  }

  /** Every running cooldown, soonest end first (times on Redis's clock). Two round trips: for status pages, not requests. */
  async listCooldowns(): Promise<SharedCooldown[]> {
    return (await this.readCooldowns()).cooldowns;
  }

  /** listCooldowns with the Redis time it was read at, so a caller can put the times on its own clock. */
  async readCooldowns(): Promise<{ serverNowMs: number; cooldowns: SharedCooldown[] }> {
    const [time, index] = await this.link.pipeline((p) => p.time().zrangebyscore(this.keys.cooldownIndex, '-inf', '+inf'));
    const serverNowMs = parseTimeReply(time);
    const ids = Array.isArray(index) ? index.filter((id): id is string => typeof id === 'string') : [];
    if (ids.length === 0) return { serverNowMs, cooldowns: [] };
    const fields = await this.link.pipeline((p) => ids.reduce((q, id) => q.hmget(this.keys.health(id), 'cause', 'until', 'fails', 'capped'), p));
    const cooldowns = ids.flatMap((id, i) => parseCooldownFields(id, fields[i], serverNowMs) ?? []).sort((a, b) => a.untilMs - b.untilMs);
    return { serverNowMs, cooldowns };
  }

  /** Shared load of accounts (live leases, last start), read in one call without changing anything. */
  async readLoad(accountIds: readonly string[]): Promise<Map<string, AccountLoad>> {
    const keys = accountIds.flatMap((id) => [this.keys.leases('account', id), this.keys.lastStart('account', id)]);
    return parseLoadReply(await this.link.call(() => this.scripts.cigLoad(keys, [])), accountIds);
  }

  /**
   * Calls `listener` with the account ids each release (or cleared cooldown) freed, from any
   * instance: a waiting request retries admission then, without polling. Uses a second connection
   * (a subscribed one can send nothing else), which resubscribes by itself after an outage.
   */
  onFreed(listener: (accountIds: string[]) => void): FreedSubscription {
    const { ready, remove } = this.link.addFreedListener(listener);
    return { ready, unsubscribe: remove };
  }

  /** Stops renewing and closes both connections at once. Held leases are not released: they lapse within the TTL. */
  async close(): Promise<void> {
    this.keeper.stop();
    this.link.close();
  }

  private holdAdmitted(reply: AdmitReply, gate: KeyGate | undefined, ids: { account: string; key: string }): AdmitResult {
    if (reply.kind === 'key_refused') return reply;
    const keyLease: Lease | null = gate && reply.keyTaken ? { scope: 'key', ownerId: gate.keyId, id: ids.key } : null;
    if (keyLease) this.keeper.add([keyLease]);
    if (reply.kind === 'none') {
      return {
        kind: 'none',
        keyLease,
        blockedAccountIds: reply.blockedAccountIds,
        cooling: reply.cooling,
        serverNowMs: reply.serverNowMs,
        nextLapseMs: reply.nextLapseMs,
      };
    }
    const accountLease: Lease = { scope: 'account', ownerId: reply.accountId, id: ids.account };
    this.keeper.add([accountLease]);
    return { kind: 'admitted', accountId: reply.accountId, accountLease, keyLease, serverNowMs: reply.serverNowMs, healthRecorded: reply.healthRecorded };
  }

  /**
   * An admission whose answer never came may still run in Redis (a frozen server reads its socket
   * when it thaws): its lease ids are released from every place it could have taken once Redis is
   * back, instead of holding a place nobody uses for a whole TTL.
   */
  private forgetUnanswered(input: AdmitInput, ids: { account: string; key: string }): void {
    const atMs = Date.now();
    const leases: Lease[] = input.candidates.map((c) => ({ scope: 'account', ownerId: c.accountId, id: ids.account }));
    if (input.keyGate) leases.push({ scope: 'key', ownerId: input.keyGate.keyId, id: ids.key });
    this.pendingReleases.push(...leases.map((lease) => ({ lease, atMs })));
  }

  private flushPendingReleases(): void {
    const oldestMs = Date.now() - this.options.leaseTtlMs;
    const entries = this.pendingReleases.filter((p) => p.atMs > oldestMs);
    this.pendingReleases = [];
    if (entries.length > 0) void this.sendRelease(entries);
  }

  /** One release call; on failure the entries wait for Redis to come back, keeping their age. */
  private async sendRelease(entries: readonly { lease: Lease; atMs: number }[]): Promise<boolean> {
    const leases = entries.map((e) => e.lease);
    const freed = [...new Set(leases.filter((l) => l.scope === 'account').map((l) => l.ownerId))];
    const keys = leases.map((l) => this.keys.leases(l.scope, l.ownerId));
    const args = [this.keys.freedChannel, freed.length > 0 ? JSON.stringify(freed) : '', ...leases.map((l) => l.id)];
    try {
      await this.link.call(() => this.scripts.cigRelease(keys, args));
      return true;
    } catch {
      this.pendingReleases.push(...entries);
      return false;
    }
  }

  private nextLeaseId(): string {
    this.sequence += 1;
    return `${this.holderId}:${this.sequence.toString(36)}`;
  }
}
