import { setFlagsFromString } from 'node:v8';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { assertChannelName, type Db, type DbParam, type DbTx } from './db.js';
import { type PgliteSeed, seedPgliteDataDir } from './pglite-template.js';

/** Options for `createPgliteDb`. */
export interface PgliteDbOptions {
  /** Directory holding the database files; null = in memory (tests and throwaway runs only). */
  dataDir: string | null;
}

/** An open embedded database, and how its data directory was made when this open made it. */
export interface OpenedPgliteDb {
  db: Db;
  /** `template`/`initdb` when this open created the data directory; null when it existed. */
  created: PgliteSeed | null;
}

/**
 * PostgreSQL settings for every open. PGlite's defaults are a server's (shared_buffers 128 MB, …),
 * while the control data is a few MB; the WASM memory PostgreSQL touches stays resident, so small
 * buffers save over 100 MB of RSS at no cost that matters. Passed as start parameters, so they
 * also apply to data directories made before they existed.
 */
const EMBEDDED_SETTINGS = ['shared_buffers=1MB', 'wal_buffers=64kB', 'work_mem=1MB', 'temp_buffers=1MB'];

/**
 * What only initdb can set, or what a data directory records in its postgresql.conf: 1 MB WAL
 * segments (16 MB by default, which every new directory would otherwise carry on disk) and a WAL
 * size to match. Used for the shipped template and for PGlite's initdb when no template fits.
 */
export const EMBEDDED_INITDB_PARAMS = ['--wal-segsize=1', ...['min_wal_size=2MB', 'max_wal_size=16MB', ...EMBEDDED_SETTINGS].flatMap((s) => ['-c', s])];

/** PGlite's own start parameters plus ours. */
export const embeddedStartParams = (): string[] => [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS.flatMap((s) => ['-c', s])];

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
  return (await openPgliteDb(options)).db;
}

/**
 * `createPgliteDb`, also telling how a new data directory was made: from the shipped template
 * (`pglite-template.ts`) when one matches the installed PGlite, else by PGlite's initdb.
 */
export async function openPgliteDb(options: PgliteDbOptions): Promise<OpenedPgliteDb> {
  const created = options.dataDir === null ? 'initdb' : seedPgliteDataDir(options.dataDir);
  const pglite = await withBaselineWasmCompiler(() =>
    PGlite.create({
      ...(options.dataDir === null ? {} : { dataDir: options.dataDir }),
      parsers: PGLITE_PARSERS,
      startParams: embeddedStartParams(),
      initDbStartParams: EMBEDDED_INITDB_PARAMS,
    }),
  );
  return { db: wrapPglite(pglite), created };
}

let baselineCompiles = 0;

/**
 * Runs `open` with V8 compiling WebAssembly with its baseline compiler (Liftoff) only. By default V8
 * also recompiles hot functions of a module with its optimising compiler in the background; for
 * PGlite's large PostgreSQL build that is seconds of CPU after every open and about 70 MB of
 * resident machine code, while the control data's small queries run as fast or faster without it
 * (measured: 3,000 queries 2.1 s → 1.7 s, RSS 216 → 150 MB). V8 fixes a module's tiers when it
 * compiles it, so the flag is lifted once no open is in flight, and WebAssembly compiled later
 * (undici's HTTP parser on the request path) keeps both tiers.
 */
async function withBaselineWasmCompiler<T>(open: () => Promise<T>): Promise<T> {
  if (baselineCompiles++ === 0) setFlagsFromString('--liftoff-only');
  try {
    return await open();
  } finally {
    if (--baselineCompiles === 0) setFlagsFromString('--no-liftoff-only');
  }
}

function wrapPglite(pglite: PGlite): Db {
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
