import type pg from 'pg';
import { assertChannelName, DB_RECONNECTED_PAYLOAD } from './db.js';

const MAX_RECONNECT_DELAY_MS = 10_000;

/** The LISTEN side of the Postgres adapter. */
export interface PgListener {
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * One connection that holds every LISTEN of this Db. When it breaks it is re-opened with
 * exponential backoff, every channel is listened to again, and every callback is told
 * (DB_RECONNECTED_PAYLOAD) so the caller can reload what it may have missed.
 */
export function createPgListener(makeClient: () => pg.Client, onError: (err: Error) => void, firstDelayMs: number): PgListener {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let live: pg.Client | null = null;
  let opening: Promise<pg.Client> | null = null;
  let closed = false;
  let delayMs = firstDelayMs;
  let timer: NodeJS.Timeout | null = null;

  const dispatch = (msg: pg.Notification) => {
    for (const handler of handlers.get(msg.channel) ?? []) handler(msg.payload ?? '');
  };

  const open = async (): Promise<pg.Client> => {
    const client = makeClient();
    client.on('notification', dispatch);
    client.on('error', (err) => lose(client, err));
    client.on('end', () => lose(client, new Error('LISTEN connection ended')));
    try {
      await client.connect();
      for (const channel of handlers.keys()) await client.query(`LISTEN ${assertChannelName(channel)}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    live = client;
    return client;
  };

  // Only the live connection's failure matters; a half-opened one fails through open()'s promise.
  const lose = (client: pg.Client, err: Error) => {
    if (client !== live) return;
    live = null;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (closed) return;
    onError(err);
    scheduleReconnect();
  };

  const scheduleReconnect = () => {
    if (timer || closed || handlers.size === 0) return;
    timer = setTimeout(() => {
      timer = null;
      connection().then(
        () => {
          delayMs = firstDelayMs;
          for (const set of [...handlers.values()]) for (const handler of [...set]) handler(DB_RECONNECTED_PAYLOAD);
        },
        (err: unknown) => {
          onError(err instanceof Error ? err : new Error(String(err)));
          delayMs = Math.min(delayMs * 2, MAX_RECONNECT_DELAY_MS);
          scheduleReconnect();
        },
      );
    }, delayMs);
    timer.unref();
  };

  const connection = async (): Promise<pg.Client> => {
    if (live) return live;
    opening ??= open().finally(() => {
      opening = null;
    });
    return opening;
  };

  const unlisten = async (channel: string, set: Set<(payload: string) => void>, onNotify: (payload: string) => void) => {
    set.delete(onNotify);
    if (set.size > 0 || handlers.get(channel) !== set) return;
    handlers.delete(channel);
    await live?.query(`UNLISTEN ${channel}`).catch(() => undefined);
  };

  return {
    async listen(channel, onNotify) {
      assertChannelName(channel);
      if (closed) throw new Error('database is closed');
      const set = handlers.get(channel) ?? new Set();
      set.add(onNotify);
      handlers.set(channel, set);
      try {
        const client = await connection();
        await client.query(`LISTEN ${channel}`);
      } catch (err) {
        await unlisten(channel, set, onNotify);
        throw err;
      }
      return () => unlisten(channel, set, onNotify);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await opening?.catch(() => null);
      const client = live;
      live = null;
      if (client) {
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
      }
    },
  };
}
