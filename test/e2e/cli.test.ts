import { existsSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_DIR_LOCK_FILE } from '../../src/store/dir-lock.js';
import { runCli, spawnCli } from '../support/cli-process.js';
import { defineControlScenario } from './cli-scenario.js';

const SLOW_MS = 120_000;

const LOOPBACK_PORTS = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'];

/**
 * Runs `start` until it says it started, then stops it: the one way a data directory comes to exist.
 * @returns everything it printed.
 */
async function startAndStop(args: string[], env: Record<string, string> = {}): Promise<string> {
  const daemon = spawnCli(['start', ...args, ...LOOPBACK_PORTS], env);
  await daemon.waitFor(/codex-image-gateway started/, SLOW_MS);
  expect(await daemon.stop()).toBe(0);
  return daemon.output();
}

/** The one line a data command fails with when it finds no data where it looked. */
const noDataLine = (dataDir: string) =>
  `error: no gateway data found: ${dataDir} has no running instance and no database, and DATABASE_URL is not set; ` +
  "pass --data-dir <the gateway's data directory>, set DATABASE_URL (or --database-url), or run `codex-image-gateway start` first";

describe('CLI data commands never create a database', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-nodata-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('run from another directory (default ./data): one line naming where it looked and what to pass; nothing created', { timeout: SLOW_MS }, async () => {
    const result = await runCli(['keys', 'create', '--name', 'stray'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toBe(noDataLine(resolve(dir, 'data')));
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('a mistyped --data-dir fails the same way for every data command and the directory is not created', { timeout: SLOW_MS * 2 }, async () => {
    const typo = join(dir, 'dta');
    for (const args of [['keys', 'list'], ['accounts', 'list'], ['groups', 'list'], ['models', 'list'], ['jobs', 'list'], ['migrate'], ['migrate', 'status']]) {
      const result = await runCli([...args, '--data-dir', typo]);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr.trim(), args.join(' ')).toBe(noDataLine(typo));
      expect(existsSync(typo), args.join(' ')).toBe(false);
    }
  });
});

describe('start on a port already in use', () => {
  let dir = '';
  let holder: Server | null = null;
  let port = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-port-'));
    holder = createServer();
    await new Promise<void>((done) => holder!.listen({ host: '127.0.0.1', port: 0 }, done));
    port = (holder.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((done) => (holder ? holder.close(() => done()) : done()));
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['--listen', 'GATEWAY_LISTEN'],
    ['--admin-listen', 'ADMIN_LISTEN'],
  ])('%s taken: one line naming the flag and %s, checked before the data directory exists', { timeout: SLOW_MS }, async (flag, env) => {
    const dataDir = join(dir, `fresh${flag}`);
    const ports = { '--listen': '127.0.0.1:0', '--admin-listen': '127.0.0.1:0', [flag]: `127.0.0.1:${port}` };
    const result = await runCli(['start', '--data-dir', dataDir, ...Object.entries(ports).flat()]);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n'), result.stderr).toHaveLength(1);
    expect(result.stderr.trim()).toBe(`error: 127.0.0.1:${port} is already in use: stop what listens there or pick another address with ${flag} (env ${env})`);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('CLI on an embedded data directory (PGlite, no instance running)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-e2e-'));
    const output = await startAndStop(['--data-dir', join(dir, 'data')]);
    // The first start unpacks the shipped database template; PGlite's initdb (seconds) does not run.
    expect(output).toContain('created the embedded database from the shipped template');
    expect(output).not.toContain('created the embedded database with initdb');
  }, SLOW_MS);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const dataDir = () => join(dir, 'data');

  defineControlScenario({ flags: () => ['--data-dir', dataDir()], scratchDir: () => dir });

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
