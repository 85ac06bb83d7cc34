import { PGlite, type Transaction } from '@electric-sql/pglite';
import { assertChannelName, type Db, type DbParam, type DbTx } from './db.js';

/** Options for `createPgliteDb`. */
export interface PgliteDbOptions {
  /** Directory holding the database files; null = in memory (tests and throwaway runs only). */
  dataDir: string | null;
}

const INT8_OID = 20;
const BYTEA_OID = 17;

/**
 * Parsers that make PGlite's values match the pg adapter's: int8 → number, bytea → Buffer
 * (PGlite's default is Uint8Array). PGlite delivers values in text form, so bytea arrives as `\x…` hex.
 */
const PGLITE_PARSERS = {
  [INT8_OID]: (value: string) => Number(value),
  [BYTEA_OID]: (value: string) => Buffer.from(value.slice(2), 'hex'),
};

/**
 * Opens (creating if needed) an embedded PGlite database. PGlite is one connection: its own mutex
 * runs queries and transactions one at a time, so a query issued while a transaction is open waits
 * for it to finish. The caller must hold the data-directory lock (`acquireDataDirLock`), because
 * two processes opening the same directory corrupt it.
 */
export async function createPgliteDb(options: PgliteDbOptions): Promise<Db> {
  const pglite = await PGlite.create({
    ...(options.dataDir === null ? {} : { dataDir: options.dataDir }),
    parsers: PGLITE_PARSERS,
  });
  return {
    kind: 'pglite',
    query: (sql, params) => runQuery(pglite, sql, params),
    exec: async (sql) => {
      await pglite.exec(sql);
    },
    transaction: (fn) => pglite.transaction((tx) => fn(wrapTransaction(tx))),
    listen: async (channel, onNotify) => {
      const stop = await pglite.listen(assertChannelName(channel), onNotify);
      return () => stop();
    },
    close: () => pglite.close(),
  };
}

async function runQuery<T>(target: PGlite | Transaction, sql: string, params?: readonly DbParam[]): Promise<T[]> {
  const result = await target.query<T>(sql, params ? [...params] : []);
  return result.rows;
}

function wrapTransaction(tx: Transaction): DbTx {
  return {
    query: (sql, params) => runQuery(tx, sql, params),
    exec: async (sql) => {
      await tx.exec(sql);
    },
  };
}
