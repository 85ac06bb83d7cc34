import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_DIR_LOCK_FILE } from '../../src/store/data-dir-lock.js';
import { runCli } from '../support/cli-process.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { findPostgresBinDir, POSTGRES_MISSING_MESSAGE, startPostgres, type PostgresServer } from '../support/postgres.js';
import { defineControlScenario } from './cli-scenario.js';

const SLOW_MS = 120_000;

describe('CLI on an embedded data directory (PGlite, no instance running)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-e2e-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const dataDir = () => join(dir, 'data');

  defineControlScenario({ flags: () => ['--data-dir', dataDir()], scratchDir: () => dir, firstRunNote: /^initialising a new embedded database in /m });

  it('migrate status lists every migration as applied; migrate has nothing to do', { timeout: SLOW_MS }, async () => {
    const status = await runCli(['migrate', 'status', '--data-dir', dataDir(), '--json']);
    expect(status.code, status.stderr).toBe(0);
    const states = JSON.parse(status.stdout) as Array<{ applied: boolean; name: string; applied_at: number }>;
    expect(states.length).toBeGreaterThan(0);
    expect(states.every((s) => s.applied && s.applied_at > 0)).toBe(true);
    const again = await runCli(['migrate', '--data-dir', dataDir()]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe('database schema is up to date');
  });

  it('leaves no lock behind: every command released the data directory', () => {
    expect(existsSync(join(dataDir(), DATA_DIR_LOCK_FILE))).toBe(false);
  });

  it('--help and --version exit 0 without touching the data', { timeout: SLOW_MS }, async () => {
    for (const args of [['--help'], ['keys', 'create', '--help'], ['accounts', 'import', '--help'], ['models', 'set', '--help'], ['--version']]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout.length).toBeGreaterThan(0);
    }
  });
});

const postgres: { server: PostgresServer | null } = { server: null };
const HAS_POSTGRES = findPostgresBinDir() !== null || Boolean(process.env.CI);
if (!HAS_POSTGRES) console.warn(`CLI Postgres case skipped: ${POSTGRES_MISSING_MESSAGE}`);

describe.runIf(HAS_POSTGRES)('CLI on Postgres (--database-url)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-pg-'));
    // On Postgres the operator provides the key (the CLI never creates one there).
    await writeFile(join(dir, 'master.key'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    postgres.server = await startPostgres();
  }, SLOW_MS);
  afterAll(async () => {
    await postgres.server?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const baseFlags = () => ['--database-url', postgres.server?.url ?? 'postgres://missing', '--data-dir', join(dir, 'data')];
  const flags = () => [...baseFlags(), '--master-key-file', join(dir, 'master.key')];

  it('refuses to work on an unmigrated database, in one line, then migrate applies everything', { timeout: SLOW_MS }, async () => {
    const before = await runCli(['keys', 'list', ...flags()]);
    expect(before.code).toBe(1);
    expect(before.stderr.trim().split('\n')).toHaveLength(1);
    expect(before.stderr).toMatch(/^error: database schema is at version 0 but this build needs 0001_init; run `codex-image-gateway migrate/);
    const migrated = await runCli(['migrate', ...flags()]);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^applied 0001_init$/m);
  });

  it('never invents a master key for Postgres: keys work without one, an import fails in one line', { timeout: SLOW_MS }, async () => {
    const file = join(dir, 'any-auth.json');
    await writeFile(file, JSON.stringify(makeCodexAuthJson({ accountId: 'acct-nokey' })));
    const imported = await runCli(['accounts', 'import', file, ...baseFlags()]);
    expect(imported.code).toBe(1);
    expect(imported.stderr.trim()).toBe(
      'error: with DATABASE_URL the master key must be named explicitly: set CODEX_IMAGE_GATEWAY_MASTER_KEY or --master-key-file (the same key for every process)',
    );
    const keys = await runCli(['keys', 'list', '--json', ...baseFlags()]);
    expect(keys.code, keys.stderr).toBe(0);
    expect(JSON.parse(keys.stdout)).toEqual([]);
    expect(existsSync(join(dir, 'data', 'master.key'))).toBe(false);
  });

  defineControlScenario({ flags, scratchDir: () => dir, firstRunNote: null });
});
