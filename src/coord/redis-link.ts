import { Redis } from 'ioredis';
import { ConnectionMode, type CoordinationMode, type ModeChange } from './connection-mode.js';
import { CoordinationError, toCoordinationError } from './coordination-error.js';
import { parseFreedMessage } from './parse-coord-reply.js';

/** Longest wait for a TCP connection to Redis (ms); calls meanwhile fail at once, never wait for it. */
const CONNECT_TIMEOUT_MS = 2_000;
/** Longest pause between reconnection attempts (ms) unless the options say otherwise. */
export const RECONNECT_MAX_DELAY_MS = 1_000;
/** How often a link whose calls failed on a still-open connection asks Redis whether it serves again (ms). */
const PROBE_EVERY_MS = 500;

export interface RedisLinkOptions {
  url: string;
  /** Longest wait for any answer (ms). */
  commandTimeoutMs: number;
  /** Longest pause between reconnection attempts (ms; default RECONNECT_MAX_DELAY_MS). */
  reconnectMaxDelayMs?: number;
  /** A key the probe may write (it expires within a second). */
  probeKey: string;
  /** Channel whose messages (JSON arrays of account ids) go to the freed listeners. */
  freedChannel: string;
  /** Runs after each move to `shared` (the coordinator resends what an outage held back). */
  onShared: () => void;
}

/** What every call meets in local mode: it is not even sent. */
const unavailableInLocalMode = (): CoordinationError => new CoordinationError('coordination_unavailable', 'redis: unavailable (local mode)');

/**
 * The coordinator's connections to Redis and their health. Calls fail at once while disconnected or
 * in local mode, and after the command timeout otherwise; an outage a call meets moves the mode to
 * `local`, and the connection becoming ready (or, on a connection that stayed open, a probe write
 * succeeding) moves it back. A second connection, opened on first use, carries the freed channel.
 */
export class RedisLink {
  readonly client: Redis;
  private readonly connection = new ConnectionMode();
  private readonly freedListeners = new Set<(accountIds: string[]) => void>();
  private subscribed: { client: Redis; ready: Promise<void> } | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private probing = false;
  private closed = false;

  constructor(private readonly options: RedisLinkOptions) {
    this.client = new Redis(options.url, {
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Fail at once while disconnected, and never resend a call whose answer was lost: an admission
      // sent twice would take two places.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Calls made in the same event-loop turn (many requests' takes and releases under load) leave
      // in one socket write; the kernel's work per write was a sixth of the gateway's time in Redis mode.
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(times * 100, options.reconnectMaxDelayMs ?? RECONNECT_MAX_DELAY_MS),
    });
    // Connection errors are reported through the mode; without a listener ioredis prints them.
    this.client.on('error', () => {});
    this.client.on('ready', () => this.enterShared('connected'));
    this.client.on('close', () => this.enterLocal('connection_lost'));
  }

  get mode(): CoordinationMode {
    return this.connection.mode;
  }

  onModeChange(listener: (change: ModeChange) => void): () => void {
    return this.connection.onChange(listener);
  }

  /** Throws the local-mode error when in local mode (for callers that must know a call was never sent). */
  assertShared(): void {
    if (this.mode === 'local') throw unavailableInLocalMode();
  }

  /** Runs one call unless in local mode; an outage it meets switches to local mode. */
  async call(send: (client: Redis) => Promise<unknown>): Promise<unknown> {
    this.assertShared();
    try {
      return await send(this.client);
    } catch (err) {
      throw this.noteFailure(err);
    }
  }

  /** Runs a pipeline (several commands, one round trip) and returns each reply; any failed command fails it. */
  async pipeline(build: (p: ReturnType<Redis['pipeline']>) => ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    const results = (await this.call((client) => build(client.pipeline()).exec())) as [Error | null, unknown][] | null;
    if (!results) throw new CoordinationError('coordination_unavailable', 'redis: pipeline not run');
    const failed = results.find(([err]) => err !== null);
    if (failed) throw this.noteFailure(failed[0]);
    return results.map(([, value]) => value);
  }

  /** Adds a freed listener, subscribing on first use; `ready` settles once Redis confirmed the subscription. */
  addFreedListener(listener: (accountIds: string[]) => void): { ready: Promise<void>; remove: () => void } {
    this.freedListeners.add(listener);
    return { ready: this.subscribe(), remove: () => this.freedListeners.delete(listener) };
  }

  /** Closes both connections at once; no mode change is reported after this. */
  close(): void {
    this.closed = true;
    this.stopProbe();
    this.client.disconnect();
    this.subscribed?.client.disconnect();
  }

  private noteFailure(err: unknown): CoordinationError {
    const error = toCoordinationError(err);
    if (error.code === 'coordination_unavailable') this.enterLocal('command_failed');
    return error;
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
    this.options.onShared();
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
      await this.client.set(this.options.probeKey, '1', 'PX', 1_000);
      this.enterShared('recovered');
    } catch {
      // Still out of reach: the next tick asks again.
    } finally {
      this.probing = false;
    }
  }

  private subscribe(): Promise<void> {
    if (this.subscribed) return this.subscribed.ready;
    // Unlike the main connection, this one may queue its SUBSCRIBE until Redis is reachable, and it
    // subscribes again by itself after a reconnection.
    const client = this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
    client.on('error', () => {});
    client.on('message', (channel: string, message: string) => {
      if (channel !== this.options.freedChannel) return;
      const ids = parseFreedMessage(message);
      for (const listener of this.freedListeners) listener(ids);
    });
    const ready = client.subscribe(this.options.freedChannel).then(() => undefined);
    ready.catch(() => {});
    this.subscribed = { client, ready };
    return ready;
  }
}
