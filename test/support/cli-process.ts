import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { readInstanceFile, type InstanceInfo } from '../../src/control/instance-file.js';
import { seedEmbeddedDatabase } from './pglite-template.js';
import { REPO_ROOT } from './repo-root.js';
import { waitFor } from './wait-for.js';

export { REPO_ROOT };
/** tsx's loader by absolute URL, so a CLI run from another directory (`cwd`) still finds it. */
const TSX_LOADER = import.meta.resolve('tsx');

declare module 'vitest' {
  export interface ProvidedContext {
    /** The CLI bundle global-setup.ts built for this run (cli-bundle.ts). */
    cliEntry: string;
  }
}

/**
 * The node arguments that run the CLI: this run's bundle of src/ when global setup built one,
 * else the TypeScript source through tsx (by absolute URL, so it works from any `cwd`).
 */
function cliNodeArgs(): string[] {
  const bundle = inject('cliEntry');
  return bundle ? [bundle] : ['--import', TSX_LOADER, join(REPO_ROOT, 'src', 'main.ts')];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI failure as the CLI promises it: exit code 1, nothing on stdout, one `error: …` line on stderr. */
export function expectOneLineError(result: CliResult, message: string): void {
  expect(result.code, result.stdout).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr.trim()).toBe(`error: ${message}`);
}

/** Environment for child processes: the machine's, minus settings that would leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'ADMIN_TOKEN', 'CODEX_IMAGE_GATEWAY_MASTER_KEY', 'CODEX_IMAGE_GATEWAY_DATA_DIR']) delete env[name];
  // Tests never reach the real OAuth server: a refresh in a CLI process goes to a closed loopback port.
  return { ...env, CODEX_OAUTH_TOKEN_URL: 'http://127.0.0.1:9/oauth/token', ...extra };
}

/** Runs the CLI (cliNodeArgs) to completion, in the repository root unless `cwd` says otherwise. */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliNodeArgs(), ...args], { cwd: opts.cwd ?? REPO_ROOT, env: cleanEnv(opts.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A long-running CLI process (start/serve/control), with its output collected. */
export interface CliDaemon {
  child: ChildProcess;
  output(): string;
  /** Waits until the output matches `pattern` (or the process exits, which throws). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** The exit code once the process has ended by itself (null when a signal ended it). */
  exited: Promise<number | null>;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): CliDaemon {
  const child = spawn(process.execPath, [...cliNodeArgs(), ...args], { cwd: REPO_ROOT, env: cleanEnv(env) });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => out,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const tick = () => {
          const m = out.match(pattern);
          if (m) return resolve(m);
          if (child.exitCode !== null) return reject(new Error(`process exited (${child.exitCode}) before ${pattern}: ${out}`));
          if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${pattern}: ${out}`));
          setTimeout(tick, 25);
        };
        tick();
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * Spawns `start` on `dataDir` with ephemeral ports and waits (up to 90 s) for its own `instance.json`;
 * fails at once, with the process output, if `start` exits first. A new `dataDir` gets the migrated
 * embedded database copied in first (seconds faster than `start` creating it); a test of the real
 * first start spawns `start` itself (spawnCli).
 */
export async function spawnStart(dataDir: string, env: Record<string, string> = {}): Promise<{ daemon: CliDaemon; instance: InstanceInfo }> {
  if (!existsSync(dataDir)) await seedEmbeddedDatabase(dataDir);
  const daemon = spawnCli(['start', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], env);
  const instance = await waitFor(
    'instance.json',
    async () => {
      if (daemon.child.exitCode !== null) throw new Error(`start exited early: ${daemon.output()}`);
      // A process killed with -9 leaves its instance.json behind: wait for this one's.
      const info = await readInstanceFile(dataDir);
      return info?.pid === daemon.child.pid ? info : null;
    },
    90_000,
    100,
  );
  return { daemon, instance };
}
