import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConfigError } from '../config/config.js';
import { DEFAULT_RETRY_AFTER_MS } from '../errors/retry-hint.js';
import { ConnectionMode, type CoordinationMode, type ModeChange } from './connection-mode.js';
import { type CoordKeys, buildCoordKeys } from './coord-keys.js';
import type { AccountLoad, AdmitInput, AdmitResult, HealthPolicy, HealthReport, KeyGate, Lease, SharedCooldown } from './coord-types.js';
import { CoordinationError, toCoordinationError } from './coordination-error.js';
import { type CoordScripts, defineCoordScripts } from './define-coord-scripts.js';
import { classifyHealthReport } from './health-verdict.js';
import { LeaseKeeper } from './lease-keeper.js';
import { type AdmitReply, parseAdmitReply, parseCooldownFields, parseFreedMessage, parseLoadReply, parseTimeReply } from './parse-coord-reply.js';

/** How long an account's last start is kept (ms): load spreading only compares recent starts. */
const LAST_START_MEMORY_MS = 86_400_000;
/** How long an account's health outlives its cooldown (ms): its failure count, so backoff keeps growing across a quiet spell. */
const HEALTH_MEMORY_MS = 86_400_000;
/** Longest wait for a TCP connection to Redis (ms); calls meanwhile fail at once, never wait for it. */
const CONNECT_TIMEOUT_MS = 2_000;
/** Longest pause between reconnection attempts (ms) unless the options say otherwise. */
export const RECONNECT_MAX_DELAY_MS = 1_000;
/** How often a coordinator whose calls failed on a still-open connection asks Redis whether it serves again (ms). */
const PROBE_EVERY_MS = 500;

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
  private readonly client: Redis;
  private readonly scripts: CoordScripts;
  private readonly keys: CoordKeys;
  private readonly connection = new ConnectionMode();
  private readonly keeper: LeaseKeeper;
  private readonly freedListeners = new Set<(accountIds: string[]) => void>();
  /** Releases that failed during an outage, sent again once Redis is back (those younger than a TTL). */
  private pendingReleases: { lease: Lease; atMs: number }[] = [];
  private subscriber: { client: Redis; ready: Promise<void> } | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private probing = false;
  private closed = false;
  private sequence = 0;

  constructor(private readonly options: RedisCoordinatorOptions) {
    if (!(options.leaseTtlMs >= 3)) throw new ConfigError('LEASE_TTL_MS must be at least 3');
    if (!(options.commandTimeoutMs >= 1)) throw new ConfigError('REDIS_COMMAND_TIMEOUT_MS must be at least 1');
    this.holderId = options.holderId ?? randomBytes(6).toString('hex');
    this.keys = buildCoordKeys(options.keyPrefix);
    this.client = new Redis(options.url, {
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Fail at once while disconnected, and never resend a call whose answer was lost: an admission
      // sent twice would take two places.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => Math.min(times * 100, options.reconnectMaxDelayMs ?? RECONNECT_MAX_DELAY_MS),
    });
    // Connection errors are reported through the mode; without a listener ioredis prints them.
    this.client.on('error', () => {});
    this.client.on('ready', () => this.enterShared('connected'));
    this.client.on('close', () => this.enterLocal('connection_lost'));
    this.scripts = defineCoordScripts(this.client);
    this.keeper = new LeaseKeeper((leases) => this.renew(leases), Math.max(1, Math.floor(options.leaseTtlMs / 3)));
    this.keeper.start();
  }

  /** `shared` while Redis serves; `local` before the first connection and during an outage. */
  get mode(): CoordinationMode {
    return this.connection.mode;
  }

  /** Tells `listener` each mode change once (for one log line and the metric); returns its removal. */
  onModeChange(listener: (change: ModeChange) => void): () => void {
    return this.connection.onChange(listener);
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
   * @throws CoordinationError when Redis cannot answer; nothing is held then, or (a lost answer) a
   * lease nobody renews, which lapses within the lease TTL.
   */
  async admit(input: AdmitInput): Promise<AdmitResult> {
    const gate = input.keyGate;
    const accountLeaseId = this.nextLeaseId();
    const keyLeaseId = gate ? this.nextLeaseId() : '';
    const { cooldownIndex } = this.keys;
    const keys = [gate ? this.keys.leases('key', gate.keyId) : cooldownIndex, gate ? this.keys.lastStart('key', gate.keyId) : cooldownIndex, cooldownIndex];
    const { leaseTtlMs, health } = this.options;
    const args: (string | number)[] = [leaseTtlMs, accountLeaseId, keyLeaseId, gate?.maxConcurrency || 0, gate?.minStartIntervalMs || 0];
    args.push(health.probeHoldMs, DEFAULT_RETRY_AFTER_MS, LAST_START_MEMORY_MS, HEALTH_MEMORY_MS);
    for (const c of input.candidates) {
      keys.push(this.keys.leases('account', c.accountId), this.keys.lastStart('account', c.accountId), this.keys.health(c.accountId));
      args.push(c.accountId, c.cap, c.tokenFingerprint ?? '');
    }
    const reply = parseAdmitReply(await this.call(() => this.scripts.cigAdmit(keys, args)));
    return this.holdAdmitted(reply, gate, { account: accountLeaseId, key: keyLeaseId });
  }

  /**
   * Frees leases in one call and announces the freed accounts on the freed channel. Never throws:
   * false when Redis did not take it, in which case the release is sent again once Redis is back
   * (and the leases lapse within their TTL if it never is).
   */
  async release(leases: readonly Lease[]): Promise<boolean> {
    if (leases.length === 0) return true;
    this.keeper.remove(leases);
    try {
      await this.sendRelease(leases);
      return true;
    } catch {
      const atMs = Date.now();
      this.pendingReleases.push(...leases.map((lease) => ({ lease, atMs })));
      return false;
    }
  }

  /** Renews leases (by default every lease this process holds) in one call; returns how many a Redis restart had lost and were put back. */
  async renew(leases: readonly Lease[] = this.keeper.list()): Promise<number> {
    if (leases.length === 0) return 0;
    const keys = leases.map((l) => this.keys.leases(l.scope, l.ownerId));
    const reply = await this.call(() => this.scripts.cigRenew(keys, [this.options.leaseTtlMs, ...leases.map((l) => l.id)]));
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
    await this.call(() => this.scripts.cigReport(keys, args));
  }

  /** Ends an account's cooldown now and forgets its failures (operator action), waking waiters; false when it had none. */
  async clearCooldown(accountId: string): Promise<boolean> {
    const keys = [this.keys.health(accountId), this.keys.cooldownIndex];
    const reply = await this.call(() => this.scripts.cigClear(keys, [accountId, this.keys.freedChannel, JSON.stringify([accountId])]));
    return reply === 1;
  }

  /** Every running cooldown, soonest end first (times on Redis's clock). Two round trips: for status pages, not requests. */
  async listCooldowns(): Promise<SharedCooldown[]> {
    const [time, index] = await this.pipeline((p) => p.time().zrangebyscore(this.keys.cooldownIndex, '-inf', '+inf'));
    const nowMs = parseTimeReply(time);
    const ids = Array.isArray(index) ? index.filter((id): id is string => typeof id === 'string') : [];
    if (ids.length === 0) return [];
    const fields = await this.pipeline((p) => ids.reduce((q, id) => q.hmget(this.keys.health(id), 'cause', 'until', 'fails', 'capped'), p));
    return ids.flatMap((id, i) => parseCooldownFields(id, fields[i], nowMs) ?? []).sort((a, b) => a.untilMs - b.untilMs);
  }

  /** Shared load of accounts (live leases, last start), read in one call without changing anything. */
  async readLoad(accountIds: readonly string[]): Promise<Map<string, AccountLoad>> {
    const keys = accountIds.flatMap((id) => [this.keys.leases('account', id), this.keys.lastStart('account', id)]);
    return parseLoadReply(await this.call(() => this.scripts.cigLoad(keys, [])), accountIds);
  }

  /**
   * Calls `listener` with the account ids each release (or cleared cooldown) freed, from any
   * instance: a waiting request retries admission then, without polling. Uses a second connection
   * (a subscribed one can send nothing else), which resubscribes by itself after an outage.
   */
  onFreed(listener: (accountIds: string[]) => void): FreedSubscription {
    this.freedListeners.add(listener);
    const ready = this.subscribe();
    return { ready, unsubscribe: () => this.freedListeners.delete(listener) };
  }

  /** Stops renewing and closes both connections at once. Held leases are not released: they lapse within the TTL. */
  async close(): Promise<void> {
    this.closed = true;
    this.keeper.stop();
    this.stopProbe();
    this.client.disconnect();
    this.subscriber?.client.disconnect();
  }

  private holdAdmitted(reply: AdmitReply, gate: KeyGate | undefined, ids: { account: string; key: string }): AdmitResult {
    if (reply.kind === 'key_refused') return reply;
    const keyLease: Lease | null = gate && reply.keyTaken ? { scope: 'key', ownerId: gate.keyId, id: ids.key } : null;
    if (keyLease) this.keeper.add([keyLease]);
    if (reply.kind === 'none') {
      return { kind: 'none', keyLease, blockedAccountIds: reply.blockedAccountIds, cooling: reply.cooling, serverNowMs: reply.serverNowMs };
    }
    const accountLease: Lease = { scope: 'account', ownerId: reply.accountId, id: ids.account };
    this.keeper.add([accountLease]);
    return { kind: 'admitted', accountId: reply.accountId, accountLease, keyLease, serverNowMs: reply.serverNowMs };
  }

  private async sendRelease(leases: readonly Lease[]): Promise<void> {
    const freed = [...new Set(leases.filter((l) => l.scope === 'account').map((l) => l.ownerId))];
    const keys = leases.map((l) => this.keys.leases(l.scope, l.ownerId));
    const args = [this.keys.freedChannel, freed.length > 0 ? JSON.stringify(freed) : '', ...leases.map((l) => l.id)];
    await this.call(() => this.scripts.cigRelease(keys, args));
  }

  /** Runs one call unless in local mode; an outage it meets switches to local mode. */
  private async call(send: () => Promise<unknown>): Promise<unknown> {
    if (this.mode === 'local') throw new CoordinationError('coordination_unavailable', 'redis: unavailable (local mode)');
    try {
      return await send();
    } catch (err) {
      throw this.noteFailure(err);
    }
  }

  private async pipeline(build: (p: ReturnType<Redis['pipeline']>) => ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    const results = (await this.call(() => build(this.client.pipeline()).exec())) as [Error | null, unknown][] | null;
    if (!results) throw new CoordinationError('coordination_unavailable', 'redis: pipeline not run');
    const failed = results.find(([err]) => err !== null);
    if (failed) throw this.noteFailure(failed[0]);
    return results.map(([, value]) => value);
  }

  private noteFailure(err: unknown): CoordinationError {
    const error = toCoordinationError(err);
    if (error.code === 'coordination_unavailable') this.enterLocal('command_failed');
    return error;
  }

  private nextLeaseId(): string {
    this.sequence += 1;
    return `${this.holderId}:${this.sequence.toString(36)}`;
  }

  private enterLocal(cause: 'connection_lost' | 'command_failed'): void {
    if (this.closed) return;
    this.connection.set('local', cause);
    // A closed connection reports 'ready' again by itself; an open one that stopped answering is probed.
    if (cause === 'command_failed') this.startProbe();
  }

  private enterShared(cause: 'connected' | 'recovered'): void {
    if (this.closed) return;
    this.stopProbe();
    this.connection.set('shared', cause);
    this.flushPendingReleases();
  }

  private flushPendingReleases(): void {
    const oldestMs = Date.now() - this.options.leaseTtlMs;
    const leases = this.pendingReleases.filter((p) => p.atMs > oldestMs).map((p) => p.lease);
    this.pendingReleases = [];
    if (leases.length > 0) void this.release(leases);
  }

  private startProbe(): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = setInterval(() => void this.probe(), PROBE_EVERY_MS);
    this.probeTimer.unref();
  }

  private stopProbe(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  /** One write (so a Redis out of memory does not pass for a healthy one); success means shared again. */
  private async probe(): Promise<void> {
    if (this.probing || this.client.status !== 'ready') return;
    this.probing = true;
    try {
      await this.client.set(`${this.options.keyPrefix}probe`, this.holderId, 'PX', 1_000);
      this.enterShared('recovered');
    } catch {
      // Still out of reach: the next tick asks again.
    } finally {
      this.probing = false;
    }
  }

  private subscribe(): Promise<void> {
    if (this.subscriber) return this.subscriber.ready;
    // Unlike the main connection, this one may queue its SUBSCRIBE until Redis is reachable.
    const client = this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
    client.on('error', () => {});
    client.on('message', (channel: string, message: string) => {
      if (channel !== this.keys.freedChannel) return;
      const ids = parseFreedMessage(message);
      for (const listener of this.freedListeners) listener(ids);
    });
    const ready = client.subscribe(this.keys.freedChannel).then(() => undefined);
    ready.catch(() => {});
    this.subscriber = { client, ready };
    return ready;
  }
}
