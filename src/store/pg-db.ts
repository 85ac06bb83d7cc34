import pg from 'pg';
import type { Db, DbParam, DbTx } from './db.js';
import { createPgListener } from './pg-listener.js';

/** Options for `createPgDb`. */
export interface PgDbOptions {
  /** `postgres://…` connection URL. */
  url: string;
  /** Pool size (the config default lives in CONFIG_FIELDS.pgMaxConnections). */
  maxConnections: number;
  /** Errors on idle or listening connections, which have no caller to throw to (for the app log). */
  onBackgroundError?: (err: Error) => void;
  /** First wait before re-opening a lost LISTEN connection; doubles up to 10 s. Default 250 ms. */
  reconnectDelayMs?: number;
}

const INT8_OID = 20;
/** `application_name` of the LISTEN connection (visible in pg_stat_activity). */
export const LISTEN_APPLICATION_NAME = 'codex-image-gateway-listen';

/**
 * Type parsers for this pool only (pg's global `types` stay untouched): int8 → number.
 * bytea → Buffer, json → value and bool → boolean are already pg's defaults.
 */
const POOL_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** Creates the Postgres adapter: a pg Pool for queries and one dedicated connection for LISTEN. */
export function createPgDb(options: PgDbOptions): Db {
  const onError = options.onBackgroundError ?? (() => undefined);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections,
    types: POOL_TYPES,
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', onError);
  const listener = createPgListener(
    () => new pg.Client({ connectionString: options.url, types: POOL_TYPES, application_name: LISTEN_APPLICATION_NAME }),
    onError,
    options.reconnectDelayMs ?? 250,
  );
  return {
    kind: 'postgres',
    query: (sql, params) => runQuery(pool, sql, params),
    exec: async (sql) => {
      await pool.query(sql);
    },
    transaction: (fn) => runTransaction(pool, fn),
    listen: (channel, onNotify) => listener.listen(channel, onNotify),
    close: async () => {
      await listener.close();
      await pool.end();
    },
  };
}

async function runQuery<T>(client: pg.Pool | pg.PoolClient, sql: string, params?: readonly DbParam[]): Promise<T[]> {
  const result = await client.query(sql, params ? [...params] : []);
  return result.rows as T[];
}

async function runTransaction<T>(pool: pg.Pool, fn: (tx: DbTx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const tx: DbTx = {
    query: (sql, params) => runQuery(client, sql, params),
    exec: async (sql) => {
      await client.query(sql);
    },
  };
  try {
    await client.query('BEGIN');
    const value = await fn(tx);
    await client.query('COMMIT');
    client.release();
    return value;
  } catch (err) {
    // A failed ROLLBACK means the connection is in an unknown state: destroy it rather than reuse it.
    const rollbackError = await client.query('ROLLBACK').then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    client.release(rollbackError);
    throw err;
  }
}
