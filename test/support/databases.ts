/**
 * Both database backends for store tests: a fresh PGlite in a temp directory (copied from an
 * initialised template, see pglite-template.ts), and a fresh database
 * (`CREATE DATABASE test_<random>`) on the test file's Postgres (startPostgres: its own database on
 * the run's shared cluster).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { createPgDb } from '../../src/store/pg-db.js';
import { createPgliteDb } from '../../src/store/pglite-db.js';
import { findPostgresBinDir, POSTGRES_MISSING_MESSAGE, runSql, startPostgres, type PostgresServer } from './postgres.js';

/** A backend the store runs on. */
export type BackendKind = Db['kind'];

/** One open test database. */
export interface TestDatabase {
  kind: BackendKind;
  db: Db;
  /** Opens a second, independent Db on the same database (Postgres only: PGlite is one process, one handle). */
  openAnother(): Db | null;
  /** Drops everything (schema `public` recreated empty), so a test can start from nothing. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Backends this machine can test: PGlite always; Postgres when its binaries exist. Without them, CI
 * fails at once; locally the Postgres half is left out with a message saying what to install.
 */
export const TEST_BACKENDS: BackendKind[] = resolveBackends();

function resolveBackends(): BackendKind[] {
  if (findPostgresBinDir()) return ['pglite', 'postgres'];
  if (process.env.CI) throw new Error(POSTGRES_MISSING_MESSAGE);
  console.warn(`store tests run on PGlite only: ${POSTGRES_MISSING_MESSAGE}`);
  return ['pglite'];
}

let cluster: Promise<PostgresServer | null> | null = null;
let clusterUsers = 0;

/** Opens a fresh, empty database of the given kind. */
export async function openTestDatabase(kind: BackendKind): Promise<TestDatabase> {
  return kind === 'pglite' ? openPglite() : openPostgres();
}

async function openPglite(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'cig-pglite-'));
  // An initialised but empty cluster, made as a first start makes it: the tests run the migrations.
  const db = await createPgliteDb({ dataDir: join(dir, 'pgdata') });
  return {
    kind: 'pglite',
    db,
    openAnother: () => null,
    reset: () => resetSchema(db),
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(): Promise<TestDatabase> {
  cluster ??= startPostgres();
  const server = await cluster;
  if (!server) throw new Error(POSTGRES_MISSING_MESSAGE);
  clusterUsers += 1;
  const name = `test_${randomBytes(6).toString('hex')}`;
  await runSql(server.url, `CREATE DATABASE ${name}`);
  const url = server.urlFor(name);
  const opened: Db[] = [];
  const open = () => {
    const db = createPgDb({ url, maxConnections: 20, reconnectDelayMs: 50 });
    opened.push(db);
    return db;
  };
  const db = open();
  return {
    kind: 'postgres',
    db,
    openAnother: open,
    reset: () => resetSchema(db),
    async close() {
      for (const each of opened) await each.close();
      await runSql(server.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      clusterUsers -= 1;
      if (clusterUsers === 0) {
        cluster = null;
        await server.stop();
      }
    },
  };
}

async function resetSchema(db: Db): Promise<void> {
  await db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
}

/** What each backend's describe block gets. */
export interface BackendContext {
  kind: BackendKind;
  /** The open database (valid inside tests and hooks). */
  database(): TestDatabase;
}

/**
 * Runs `body` once per backend in TEST_BACKENDS (`describe.each`), with a database opened before
 * and closed after the block: one PGlite and one Postgres database per block.
 */
export function describeEachBackend(title: string, body: (ctx: BackendContext) => void): void {
  describe.each(TEST_BACKENDS)(`${title} [%s]`, (kind) => {
    let current: TestDatabase | null = null;
    beforeAll(async () => {
      current = await openTestDatabase(kind);
    }, 120_000);
    afterAll(async () => {
      await current?.close();
    });
    body({
      kind,
      database: () => {
        if (!current) throw new Error('test database is not open yet');
        return current;
      },
    });
  });
}
