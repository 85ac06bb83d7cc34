import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS } from '../../src/store/migrator.js';
import { createPgliteDb, openPgliteDb } from '../../src/store/pglite-db.js';
import { installedPgliteVersion, pgliteTemplateName, resolvePgliteTemplateDir, seedPgliteDataDir } from '../../src/store/pglite-template.js';

const scratch = mkdtempSync(join(tmpdir(), 'cig-pglite-template-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const shipped = () => join(resolvePgliteTemplateDir(), pgliteTemplateName(installedPgliteVersion()));

/** The settings a first start must leave: small buffers, 1 MB WAL segments. */
async function embeddedSettings(db: Awaited<ReturnType<typeof createPgliteDb>>): Promise<Record<string, string>> {
  const rows = await db.query<{ name: string; value: string }>(
    "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN ('shared_buffers', 'wal_buffers', 'work_mem', 'temp_buffers', 'wal_segment_size')",
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}

describe('the shipped embedded-database template', () => {
  it('exists for the installed PGlite and is the only one shipped (after a PGlite upgrade: npm run build:pglite-template)', () => {
    expect(existsSync(shipped()), `missing ${shipped()}: run npm run build:pglite-template and commit it`).toBe(true);
    expect(readdirSync(resolvePgliteTemplateDir())).toEqual([pgliteTemplateName(installedPgliteVersion())]);
  });

  it('a first open unpacks it: an initialised directory with our settings, the postgres database only, every migration applies', async () => {
    const pgdata = join(scratch, 'first', 'pgdata');
    const opened = await openPgliteDb({ dataDir: pgdata });
    try {
      expect(opened.created).toBe('template');
      expect(await embeddedSettings(opened.db)).toEqual({
        shared_buffers: '1MB',
        temp_buffers: '1MB',
        wal_buffers: '64kB',
        wal_segment_size: '1MB',
        work_mem: '1MB',
      });
      expect((await opened.db.query<{ datname: string }>('SELECT datname FROM pg_database')).map((r) => r.datname)).toEqual(['postgres']);
      expect(await migrate(opened.db)).toHaveLength(MIGRATIONS.length);
    } finally {
      await opened.db.close();
    }
    const reopened = await openPgliteDb({ dataDir: pgdata });
    try {
      expect(reopened.created).toBeNull();
      expect(await migrate(reopened.db)).toEqual([]);
    } finally {
      await reopened.db.close();
    }
    // Nothing but the database itself is left beside it (the scratch folder was renamed into place).
    expect(readdirSync(join(scratch, 'first'))).toEqual(['pgdata']);
  });

  it('without a template for the installed PGlite, seeding leaves the directory to initdb; a damaged template fails and leaves nothing', () => {
    const templates = join(scratch, 'templates');
    mkdirSync(templates);
    const target = join(scratch, 'seeded', 'pgdata');
    expect(seedPgliteDataDir(target, templates)).toBe('initdb');
    expect(existsSync(target)).toBe(false);

    writeFileSync(join(templates, pgliteTemplateName(installedPgliteVersion())), readFileSync(shipped()).subarray(0, 100_000));
    expect(() => seedPgliteDataDir(target, templates)).toThrow();
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(scratch, 'seeded'))).toEqual([]);
  });

  it('an existing folder that holds no database is named, not overwritten', () => {
    const pgdata = join(scratch, 'stray', 'pgdata');
    mkdirSync(pgdata, { recursive: true });
    writeFileSync(join(pgdata, 'notes.txt'), 'mine');
    expect(() => seedPgliteDataDir(pgdata)).toThrow(`${pgdata} exists but holds no database (no PG_VERSION): move it away so a new one can be created`);
    expect(readdirSync(pgdata)).toEqual(['notes.txt']);
    // An empty folder of that name is simply filled.
    rmSync(join(pgdata, 'notes.txt'));
    expect(seedPgliteDataDir(pgdata)).toBe('template');
    expect(existsSync(join(pgdata, 'PG_VERSION'))).toBe(true);
  });

  it("PGlite's own initdb (no template: in memory) gets the same settings", async () => {
    const db = await createPgliteDb({ dataDir: null });
    try {
      expect(await embeddedSettings(db)).toMatchObject({ shared_buffers: '1MB', wal_segment_size: '1MB' });
    } finally {
      await db.close();
    }
  }, 60_000);
});

describe('a data directory made before the template', () => {
  it('opens with the small buffers too (they are start parameters, not only postgresql.conf)', async () => {
    // A copy of the shipped template whose postgresql.conf asks for 128 MB, like initdb's default.
    const pgdata = join(scratch, 'old', 'pgdata');
    seedPgliteDataDir(pgdata);
    const conf = join(pgdata, 'postgresql.conf');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}\nshared_buffers = 128MB\n`);
    const db = await createPgliteDb({ dataDir: pgdata });
    try {
      expect((await embeddedSettings(db)).shared_buffers).toBe('1MB');
    } finally {
      await db.close();
    }
  });
});
