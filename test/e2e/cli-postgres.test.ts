import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../support/cli-process.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { findPostgresBinDir, POSTGRES_MISSING_MESSAGE, startPostgres, type PostgresServer } from '../support/postgres.js';
import { defineControlScenario } from './cli-scenario.js';

/**
 * The CLI on Postgres (--database-url): the same session as on an embedded data directory
 * (test/e2e/cli.test.ts), plus what only Postgres has. A file of its own so the two sessions, each
 * a long chain of CLI processes, run side by side.
 */
const SLOW_MS = 120_000;

const LOOPBACK_PORTS = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'];

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

  defineControlScenario({ flags, scratchDir: () => dir });

  it('next to a running `start` on Postgres, a data command goes through its admin API and writes no pgdata/ or master.key', { timeout: SLOW_MS }, async () => {
    const instanceDir = join(dir, 'instance');
    const daemon = spawnCli(['start', '--data-dir', instanceDir, ...flags().slice(0, 2), '--master-key-file', join(dir, 'master.key'), ...LOOPBACK_PORTS]);
    try {
      await daemon.waitFor(/codex-image-gateway started/, SLOW_MS);
      const created = await runCli(['keys', 'create', '--name', 'beside-pg', '--json', '--data-dir', instanceDir]);
      expect(created.code, created.stderr).toBe(0);
      expect(existsSync(join(instanceDir, 'pgdata'))).toBe(false);
      expect(existsSync(join(instanceDir, 'master.key'))).toBe(false);
      const listed = await runCli(['keys', 'list', '--json', ...baseFlags()]);
      expect((JSON.parse(listed.stdout) as Array<{ name: string }>).map((k) => k.name)).toContain('beside-pg');
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});
