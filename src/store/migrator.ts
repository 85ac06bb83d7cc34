import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db, DbTx } from './db.js';

/** One schema migration: a plain SQL file `NNNN_name.sql` in src/store/migrations. */
export interface Migration {
  version: number;
  /** File name without `.sql`, e.g. `0001_init`. */
  name: string;
  sql: string;
  /** Lowercase hex SHA-256 of the file's bytes; an applied migration must never change. */
  checksum: string;
}

/** One row of `migrationStatus`. */
export interface MigrationState {
  version: number;
  name: string;
  applied: boolean;
  /** ms since epoch; null when not applied. */
  appliedAt: number | null;
}

/** The database lacks a migration this build needs (the data plane refuses to start on it). */
export class SchemaOutOfDateError extends Error {
  override name = 'SchemaOutOfDateError';
}

/** An applied migration's file changed since it ran; the schema no longer matches the files. */
export class MigrationChecksumError extends Error {
  override name = 'MigrationChecksumError';
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/**
 * Fixed advisory-lock key (ASCII "cigmigr") so concurrent migrators take turns; passed as decimal text,
 * since 56 bits are past what a JS number holds exactly.
 */
const MIGRATION_LOCK_KEY = 0x6369676d696772n.toString();

/**
 * Finds the migrations folder both from src/ (tsx, tests) and from dist/ after `tsc` (which does not
 * copy .sql files): next to this module first, else `<package root>/src/store/migrations`.
 */
export function resolveMigrationsDir(moduleUrl: string = import.meta.url): string {
  const candidates = [fileURLToPath(new URL('./migrations/', moduleUrl)), fileURLToPath(new URL('../../src/store/migrations/', moduleUrl))];
  const found = candidates.find((dir) => existsSync(join(dir, '0001_init.sql')));
  if (!found) throw new Error(`migrations folder not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Reads and checks every `NNNN_name.sql` in `dir`: versions must run 1, 2, 3… without gaps. */
export function loadMigrations(dir: string): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const match = MIGRATION_FILE.exec(file);
      if (!match) throw new Error(`migration file ${file} must be named NNNN_name.sql`);
      const bytes = readFileSync(join(dir, file));
      return { version: Number(match[1]), name: file.slice(0, -4), sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} should have version ${String(i + 1).padStart(4, '0')}`);
  });
  return migrations;
}

/** Every migration this build knows, in order. */
export const MIGRATIONS: readonly Migration[] = loadMigrations(resolveMigrationsDir());

/** The schema version this build needs (the last migration's). */
export const REQUIRED_SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
}

/**
 * Brings the schema up to date. Each migration runs in its own transaction together with its
 * `schema_migrations` row, under a transaction-scoped advisory lock, and re-checks inside that lock
 * whether it was applied meanwhile: several processes may migrate at once and each migration still
 * runs exactly once.
 * @returns names of the migrations applied by this call.
 * @throws MigrationChecksumError before applying anything if an applied migration's file changed.
 */
export async function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS, now: () => number = Date.now): Promise<string[]> {
  await db.transaction(async (tx) => {
    await lockMigrations(tx);
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
  });
  assertChecksums(await readApplied(db), migrations);
  const applied: string[] = [];
  for (const migration of migrations) {
    const ran = await db.transaction(async (tx) => {
      await lockMigrations(tx);
      const rows = await readApplied(tx);
      assertChecksums(rows, [migration]);
      if (rows.some((row) => row.version === migration.version)) return false;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [
        migration.version,
        migration.name,
        migration.checksum,
        now(),
      ]);
      return true;
    });
    if (ran) applied.push(migration.name);
  }
  return applied;
}

/** Every known migration and whether (and when) it was applied. */
export async function migrationStatus(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationState[]> {
  const rows = await readApplied(db);
  return migrations.map((m) => {
    const row = rows.find((r) => r.version === m.version);
    return { version: m.version, name: m.name, applied: row !== undefined, appliedAt: row?.applied_at ?? null };
  });
}

/**
 * Checks that every migration this build needs has been applied (the data plane never migrates).
 * A database migrated further by a newer build passes: migrations only add.
 * @throws SchemaOutOfDateError naming the first missing migration and how to apply it.
 */
export async function verifySchema(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  const rows = await readApplied(db);
  const missing = migrations.find((m) => !rows.some((r) => r.version === m.version));
  if (!missing) return;
  const current = rows.reduce((max, r) => Math.max(max, r.version), 0);
  throw new SchemaOutOfDateError(
    `database schema is at version ${current} but this build needs ${missing.name}; ` +
      'run `codex-image-gateway migrate --database-url …` (or `control --migrate`) first',
  );
}

async function lockMigrations(tx: DbTx): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
}

/** Applied rows, or none when the bookkeeping table does not exist yet. */
async function readApplied(db: DbTx): Promise<AppliedRow[]> {
  const [exists] = await db.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
  if (!exists?.present) return [];
  return db.query<AppliedRow>('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version');
}

function assertChecksums(rows: readonly AppliedRow[], migrations: readonly Migration[]): void {
  for (const migration of migrations) {
    const row = rows.find((r) => r.version === migration.version);
    if (row && row.checksum !== migration.checksum) {
      throw new MigrationChecksumError(
        `migration ${migration.name} was changed after it was applied (checksum ${row.checksum.slice(0, 12)}… in the database, ` +
          `${migration.checksum.slice(0, 12)}… in this build); restore the original file and add a new migration instead`,
      );
    }
  }
}
