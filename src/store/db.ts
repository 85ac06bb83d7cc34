/**
 * The database port: the one interface every repository, the migrator and the snapshot loader talk
 * to, with a Postgres (`pg-db.ts`) and a PGlite (`pglite-db.ts`) adapter behind it.
 *
 * Both adapters normalise values so callers see the same thing on either backend:
 * int8/bigint → JS number (the gateway keeps every stored value below 2^53), bytea → Buffer,
 * boolean → boolean, json/jsonb → parsed value, text[] → string[]. `numeric` is NOT normalised
 * (it differs by backend): cast aggregates such as `SUM(bigint)` back to `::bigint` in SQL.
 */

/** Which engine is behind a Db: a Postgres server, or PGlite embedded in this process. */
export type DbKind = 'postgres' | 'pglite';

/** A value that may be bound to a `$n` placeholder. */
export type DbParam = string | number | boolean | null | Buffer | readonly string[] | readonly number[];

/** The queries available inside a transaction (and on a Db itself). */
export interface DbQuerier {
  /** Runs one parameterised statement and returns its rows (empty for statements without rows). */
  query<T>(sql: string, params?: readonly DbParam[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** A transaction handle: only valid inside the callback given to `Db.transaction`. */
export type DbTx = DbQuerier;

/** A connection pool (or embedded engine) with transactions and LISTEN. */
export interface Db extends DbQuerier {
  readonly kind: DbKind;
  /**
   * Runs `fn` inside BEGIN … COMMIT; a throw rolls back and re-throws. Do not call `db.query` from
   * inside `fn` (on PGlite that deadlocks, on Postgres it runs outside the transaction): use `tx`.
   */
  transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T>;
  /**
   * Subscribes to a NOTIFY channel; resolves once the subscription is active and returns the
   * function that ends it. On Postgres, after the listening connection is re-established the
   * callback is called once with the payload `DB_RECONNECTED_PAYLOAD`, because notifications sent
   * while it was down are lost.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Ends every connection (and stops every listener). */
  close(): Promise<void>;
}

/** Payload delivered to listeners after a lost LISTEN connection came back (changes may have been missed). */
export const DB_RECONNECTED_PAYLOAD = '!reconnected';

/** Postgres SQLSTATE codes the store reacts to. */
export const PG_ERROR_CODES = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  deadlockDetected: '40P01',
  serializationFailure: '40001',
} as const satisfies Record<string, string>;

/** True when `err` is a database error carrying the given SQLSTATE (both pg and PGlite set `code`). */
export function isDbErrorCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Channel names are SQL identifiers we interpolate into LISTEN: allow only plain lower-case names. */
export function assertChannelName(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid notification channel name ${JSON.stringify(channel)}`);
  return channel;
}

/** Turns a byte value as a driver returns it (Buffer or Uint8Array) into a Buffer without copying. */
export function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
