/**
 * Throwaway Redis for tests: `redis-server` on 127.0.0.1 with a free port and a temp directory, no
 * persistence (`--save '' --appendonly no`) and `--maxmemory-policy noeviction`, as production runs it.
 * stop() and restart() let a test cut Redis off and bring it back empty (a restart loses every key,
 * as a real restart without persistence does); pause() and resume() freeze it (SIGSTOP/SIGCONT), so
 * the socket stays open while nothing answers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './free-port.js';
import { findSystemTool } from './system-tool.js';

/** Where Debian installs it; PATH is searched too. */
const REDIS_CANDIDATES = ['/usr/bin/redis-server'];
const READY_LINE = 'Ready to accept connections';
const START_TIMEOUT_MS = 10_000;

/** A running throwaway Redis. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (no password). */
  url: string;
  port: number;
  /** Kills the server (SIGKILL: no shutdown work, as a crash). Its port stays reserved for restart(). */
  stop(): Promise<void>;
  /** Stops the server if it runs, then starts an empty one on the same port. */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, commands get no answer. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Stops the server for good and removes its directory. */
  close(): Promise<void>;
}

/**
 * The redis-server binary, or null locally (with a loud message saying what to install); under CI a
 * missing redis-server is an error (.ci/run installs it).
 */
export const findRedisServer = (): string | null => findSystemTool('redis-server', 'apt-get install redis-server', REDIS_CANDIDATES);

/** Starts a throwaway Redis with `bin` (from findRedisServer). */
export async function startRedis(bin: string): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cig-redis-'));
  const port = await findFreePort();
  let child: ChildProcess | null = null;
  const killNow = () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  // A test file that crashes before its afterAll must not leave a server running.
  process.once('exit', killNow);
  const stop = async () => {
    const running = child;
    child = null;
    if (running) await killAndWait(running);
  };
  const start = async () => {
    child = await spawnRedis(bin, port, dir);
  };
  try {
    await start();
  } catch (err) {
    killNow();
    process.removeListener('exit', killNow);
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      await start();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async close() {
      child?.kill('SIGCONT');
      await stop();
      process.removeListener('exit', killNow);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnRedis(bin: string, port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
  args.push('--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', '');
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`redis-server not ready after ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(READY_LINE)) done();
    };
    const onExit = (code: number | null) => fail(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    const cleanUp = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    const done = () => {
      cleanUp();
      resolve();
    };
    const fail = (err: Error) => {
      cleanUp();
      child.kill('SIGKILL');
      reject(err);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', onExit);
  });
  // Keep draining the pipes so a chatty server never blocks on a full one.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}
