/**
 * Throwaway Postgres for tests. A cluster is `initdb -A trust` in a temp directory and `pg_ctl start`
 * on 127.0.0.1 with a free port, run as the `postgres` user (initdb refuses to run as root). Global
 * setup starts one cluster per test run; each `startPostgres()` then gets a database of its own on
 * it, which costs a `CREATE DATABASE` instead of a cluster's second and a half.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { inject } from 'vitest';
import { findFreePort } from './free-port.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The maintenance URL of the cluster global-setup.ts started for this run; absent without Postgres. */
    sharedPostgresUrl?: string;
  }
}

const run = promisify(execFile);
const POSTGRES_ROOT = '/usr/lib/postgresql';
const OS_USER = 'postgres';

/** A throwaway database (or a whole cluster, from startPostgresCluster). */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust auth, superuser). */
  url: string;
  /** Builds the URL of another database on the same cluster. */
  urlFor(database: string): string;
  /** Drops the database (a cluster: stops it at once and removes its directory). */
  stop(): Promise<void>;
}

/** Message for machines without Postgres (what to install). */
export const POSTGRES_MISSING_MESSAGE = 'Postgres binaries not found under /usr/lib/postgresql/*/bin: apt-get install postgresql';

/** The newest `/usr/lib/postgresql/<version>/bin` holding initdb and pg_ctl, or null. */
export function findPostgresBinDir(): string | null {
  if (!existsSync(POSTGRES_ROOT)) return null;
  const versions = readdirSync(POSTGRES_ROOT)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(POSTGRES_ROOT, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return null;
}

/**
 * A fresh, empty database of its own: on the run's shared cluster when global setup started one,
 * else on a cluster started for it. Returns null when no Postgres is installed (the caller skips
 * with POSTGRES_MISSING_MESSAGE), except under CI, where a missing Postgres is an error.
 */
export async function startPostgres(): Promise<PostgresServer | null> {
  const shared = inject('sharedPostgresUrl');
  return shared ? createSharedDatabase(shared) : startPostgresCluster();
}

async function createSharedDatabase(maintenanceUrl: string): Promise<PostgresServer> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  await runSql(maintenanceUrl, `CREATE DATABASE ${name}`);
  const urlFor = (database: string) => {
    const url = new URL(maintenanceUrl);
    url.pathname = `/${database}`;
    return url.href;
  };
  return { url: urlFor(name), urlFor, stop: () => runSql(maintenanceUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Runs one statement on its own connection (CREATE/DROP DATABASE cannot run inside a pool's transaction). */
export async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Starts a cluster of its own (null, or an error under CI, without Postgres: see startPostgres). */
export async function startPostgresCluster(): Promise<PostgresServer | null> {
  const bin = findPostgresBinDir();
  if (!bin) {
    if (process.env.CI) throw new Error(`${POSTGRES_MISSING_MESSAGE} (CI must install it in .ci/run)`);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cig-pg-'));
  const dataDir = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  if (asRoot) chownToPostgres(dir);
  const port = await findFreePort();
  const runPg = (tool: string, args: string[]) => runAsPostgres(asRoot, join(bin, tool), args);
  try {
    await runPg('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    // dynamic_shared_memory_type=mmap: the segments are files in the data directory, removed with it;
    // the default puts them in /dev/shm, where an immediate stop leaves them behind for good.
    const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c dynamic_shared_memory_type=mmap`;
    await runPg('pg_ctl', ['start', '-D', dataDir, '-w', '-t', '60', '-l', join(dir, 'server.log'), '-o', serverOptions]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Read now, while the data directory surely holds it: the fallback of a stop that did not work.
  const postmasterPid = readPostmasterPid(dataDir);
  const stopNow = () => {
    const stopArgs = [join(bin, 'pg_ctl'), 'stop', '-D', dataDir, '-m', 'immediate'];
    spawnSync(asRoot ? 'runuser' : stopArgs[0]!, asRoot ? ['-u', OS_USER, '--', ...stopArgs] : stopArgs.slice(1), { stdio: 'ignore' });
    killIfAlive(postmasterPid, dataDir);
    rmSync(dir, { recursive: true, force: true });
  };
  // A test file that crashes before its afterAll must not leave a server running.
  process.once('exit', stopNow);
  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    url: urlFor('postgres'),
    urlFor,
    async stop() {
      process.removeListener('exit', stopNow);
      await runPg('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate']).catch(() => undefined);
      // A pg_ctl that failed (seen once on a machine under full load) must not leave the server running.
      killIfAlive(postmasterPid, dataDir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The postmaster's pid from `postmaster.pid` (its first line), or null. */
function readPostmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * SIGKILLs the postmaster if it still runs (its backends exit when it dies). Only a process whose
 * command line names `dataDir`: after a stop that worked, the pid may already belong to another.
 */
function killIfAlive(pid: number | null, dataDir: string): void {
  if (pid === null) return;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir)) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already: the stop worked.
  }
}

function chownToPostgres(dir: string): void {
  const id = (flag: string) => Number(spawnSync('id', [flag, OS_USER], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no '${OS_USER}' OS user to run Postgres as`);
  chownSync(dir, uid, gid);
}

/** runuser when available (no PAM session noise), else su. Not root: run directly. */
async function runAsPostgres(asRoot: boolean, command: string, args: string[]): Promise<void> {
  const options = { timeout: 120_000, cwd: '/' };
  if (!asRoot) {
    await run(command, args, options);
    return;
  }
  try {
    await run('runuser', ['-u', OS_USER, '--', command, ...args], options);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    const quoted = [command, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    await run('su', [OS_USER, '-c', quoted], options);
  }
}
