import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  loadMigrations,
  migrate,
  MIGRATIONS,
  MigrationChecksumError,
  migrationStatus,
  REQUIRED_SCHEMA_VERSION,
  resolveMigrationsDir,
  SchemaOutOfDateError,
  verifySchema,
  type Migration,
} from '../../src/store/migrator.js';
import { describeEachBackend } from '../support/databases.js';

const TABLES = [
  'accounts',
  'api_keys',
  'database_identity',
  'gateway_instances',
  'group_accounts',
  'groups',
  'hosted_results',
  'image_jobs',
  'key_accounts',
  'key_usage',
  'master_key_check',
  'model_aliases',
  'schema_migrations',
  'settings',
  'usage_daily',
  'usage_hourly',
  'usage_journal_marks',
];

describeEachBackend('migrator', ({ kind, database }) => {
  beforeEach(async () => {
    await database().reset();
  });

  it('applies every migration on an empty database and records version, name, checksum and time', async () => {
    const { db } = database();
    expect(await migrate(db, MIGRATIONS, () => 1_700_000_000_000)).toEqual(MIGRATIONS.map((m) => m.name));
    const rows = await db.query<{ version: number; name: string; checksum: string; applied_at: number }>(
      'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
    );
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum, applied_at: 1_700_000_000_000 })));
    const tables = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
    expect(tables.map((t) => t.table_name)).toEqual(TABLES);
  });

  it('is idempotent: a second run applies nothing and changes nothing', async () => {
    const { db } = database();
    await migrate(db);
    const before = await db.query('SELECT * FROM schema_migrations ORDER BY version');
    expect(await migrate(db)).toEqual([]);
    expect(await db.query('SELECT * FROM schema_migrations ORDER BY version')).toEqual(before);
  });

  it('reports status before and after', async () => {
    const { db } = database();
    expect(await migrationStatus(db)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied: false, appliedAt: null })));
    await migrate(db, MIGRATIONS, () => 42);
    expect(await migrationStatus(db)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied: true, appliedAt: 42 })));
  });

  it('refuses to run when an applied migration changed, before applying later ones', async () => {
    const { db } = database();
    const first = MIGRATIONS[0]!;
    await migrate(db, [first]);
    const changed: Migration = { ...first, sql: `${first.sql}\n-- edited`, checksum: 'f'.repeat(64) };
    const later: Migration = { version: 2, name: '0002_later', sql: 'CREATE TABLE later (id INT)', checksum: 'a'.repeat(64) };
    await expect(migrate(db, [changed, later])).rejects.toThrow(MigrationChecksumError);
    await expect(migrate(db, [changed, later])).rejects.toThrow(/0001_init was changed after it was applied/);
    expect(await db.query("SELECT to_regclass('later') IS NULL AS absent")).toEqual([{ absent: true }]);
  });

  it('applies a new migration on top of an old schema', async () => {
    const { db } = database();
    await migrate(db, MIGRATIONS);
    const next: Migration = { version: REQUIRED_SCHEMA_VERSION + 1, name: 'next_one', sql: 'CREATE TABLE next_one (id INT);', checksum: 'b'.repeat(64) };
    expect(await migrate(db, [...MIGRATIONS, next])).toEqual(['next_one']);
  });

  it('rolls back a failing migration whole, with nothing recorded', async () => {
    const { db } = database();
    const broken: Migration = { version: 1, name: '0001_broken', sql: 'CREATE TABLE half (id INT); SELECT no_such_function();', checksum: 'c'.repeat(64) };
    await expect(migrate(db, [broken])).rejects.toThrow(/no_such_function/);
    expect(await db.query("SELECT to_regclass('half') IS NULL AS absent")).toEqual([{ absent: true }]);
    expect(await db.query('SELECT * FROM schema_migrations')).toEqual([]);
  });

  it('verifySchema names the first missing migration on an empty database', async () => {
    const { db } = database();
    const failure = verifySchema(db);
    await expect(failure).rejects.toThrow(SchemaOutOfDateError);
    await expect(verifySchema(db)).rejects.toThrow(
      'database schema is at version 0 but this build needs 0001_init; run `codex-image-gateway migrate --database-url …` (or `control --migrate`) first',
    );
  });

  it('verifySchema passes once migrated, and names a later missing migration', async () => {
    const { db } = database();
    await migrate(db);
    await expect(verifySchema(db)).resolves.toBeUndefined();
    const next: Migration = { version: REQUIRED_SCHEMA_VERSION + 1, name: '0002_more', sql: '', checksum: 'd'.repeat(64) };
    await expect(verifySchema(db, [...MIGRATIONS, next])).rejects.toThrow(`at version ${REQUIRED_SCHEMA_VERSION} but this build needs 0002_more`);
  });

  if (kind === 'postgres') {
    it('several processes migrating at once apply each migration exactly once', async () => {
      const others = [database().openAnother()!, database().openAnother()!, database().openAnother()!];
      const results = await Promise.all([database().db, ...others].map((db) => migrate(db)));
      // Which process applied which migration is a race; that each ran exactly once, in order, is not.
      expect([...results.flat()].sort()).toEqual(MIGRATIONS.map((m) => m.name));
      const rows = await database().db.query<{ version: number; applied_at: number }>(
        'SELECT version, applied_at FROM schema_migrations ORDER BY applied_at, version',
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    });
  }
});

describe('migration files', () => {
  it('are found next to the module (src/, or dist/ after `npm run build` copied them)', () => {
    const fromSrc = resolveMigrationsDir();
    expect(fromSrc.replace(/\/$/, '')).toMatch(/src\/store\/migrations$/);
    const distUrl = pathToFileURL(join(fromSrc, '..', '..', '..', 'dist', 'store', 'migrator.js')).href;
    // With or without a built dist/, the migrations found from there are these ones.
    const summary = (dir: string) => loadMigrations(dir).map((m) => [m.name, m.checksum]);
    expect(summary(resolveMigrationsDir(distUrl))).toEqual(summary(fromSrc));
  });

  it('fall back to <package>/src/store/migrations when a compiled module has none beside it (plain tsc)', () => {
    const root = mkdtempSync(join(tmpdir(), 'cig-migrations-'));
    try {
      mkdirSync(join(root, 'src', 'store', 'migrations'), { recursive: true });
      writeFileSync(join(root, 'src', 'store', 'migrations', '0001_init.sql'), 'SELECT 1;');
      const distUrl = pathToFileURL(join(root, 'dist', 'store', 'migrator.js')).href;
      expect(resolveMigrationsDir(distUrl).replace(/\/$/, '')).toBe(join(root, 'src', 'store', 'migrations'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('run 0001, 0002, … and REQUIRED_SCHEMA_VERSION is the last', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(REQUIRED_SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(MIGRATIONS[0]!.name).toBe('0001_init');
    for (const m of MIGRATIONS) expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    [['0001_a.sql', '0003_c.sql'], /0003_c should have version 0002/],
    [['0001_a.sql', 'second.sql'], /second.sql must be named NNNN_name.sql/],
    [['0002_a.sql'], /0002_a should have version 0001/],
    [['0001_Bad-Name.sql'], /must be named NNNN_name.sql/],
  ])('loadMigrations rejects %j', (files, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'cig-migr-'));
    try {
      for (const file of files) writeFileSync(join(dir, file), 'SELECT 1;');
      expect(() => loadMigrations(dir)).toThrow(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
