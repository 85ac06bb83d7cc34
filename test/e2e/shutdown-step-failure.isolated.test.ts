import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { REQUEST_LOG_FILES } from '../../src/observe/request-log-files.js';
import { openDatabase } from '../../src/runtime/open-database.js';
import { runServe, runStart } from '../../src/runtime/processes.js';
import { DATA_DIR_LOCK_FILE } from '../../src/store/dir-lock.js';
import { migrate } from '../../src/store/migrator.js';
import { createPgDb } from '../../src/store/pg-db.js';
import { startPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';

/**
 * One failing shutdown step must not leave the rest undone: the data plane's close is made to fail
 * (after doing its work, as it does when one of its own steps failed), and the process's stop must
 * still close the database and release its locks, then report the failure (exit status 1).
 */
const injected = vi.hoisted(() => ({ failDataPlaneClose: false }));
vi.mock('../../src/runtime/data-plane.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/runtime/data-plane.js')>();
  return {
    ...real,
    createDataPlane: async (...args: Parameters<typeof real.createDataPlane>) => {
      const plane = await real.createDataPlane(...args);
      return {
        ...plane,
        close: async () => {
          await plane.close();
          if (injected.failDataPlaneClose) throw new Error('injected: data plane close failed');
        },
      };
    },
  };
});

const dirs: string[] = [];
afterEach(() => {
  injected.failDataPlaneClose = false;
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cig-stop-fail-'));
  dirs.push(dir);
  return dir;
}

/** A logger writing JSON lines to a file the test reads back. */
function fileLogger(path: string) {
  const destination = pino.destination({ dest: path, sync: true });
  return pino({ level: 'info' }, destination);
}

describe('start: a failing data-plane close', () => {
  it('still closes the embedded database, releases both locks, logs the step and rejects', async () => {
    const dir = await scratchDir();
    const logDir = join(dir, 'logs');
    const config = loadConfig({ CODEX_IMAGE_GATEWAY_DATA_DIR: dir, GATEWAY_LISTEN: '127.0.0.1:0', ADMIN_LISTEN: '127.0.0.1:0', CODEX_IMAGE_LOG_DIR: logDir });
    const appLog = join(dir, 'app.log');
    const running = await runStart(config, fileLogger(appLog));
    expect(existsSync(join(dir, DATA_DIR_LOCK_FILE))).toBe(true);
    expect(existsSync(join(logDir, REQUEST_LOG_FILES.lock))).toBe(true);

    injected.failDataPlaneClose = true;
    await expect(running.stop()).rejects.toThrow('injected: data plane close failed');

    expect(existsSync(join(dir, DATA_DIR_LOCK_FILE))).toBe(false);
    expect(existsSync(join(logDir, REQUEST_LOG_FILES.lock))).toBe(false);
    const log = await readFile(appLog, 'utf8');
    expect(log).toContain('"msg":"start shutdown step failed"');
    expect(log).toMatch(/"msg":"shutdown flushed usage of 0 request/);
    // The embedded database was closed cleanly: another process could open it now.
    const reopened = await openDatabase(config);
    expect(await reopened.db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await reopened.close();
  });
});

const pgServer = await startPostgres();

describe.skipIf(!pgServer)('serve: a failing data-plane close', () => {
  afterAll(async () => pgServer?.stop());

  it('still closes its Postgres connections and the request log, logs the step and rejects', async () => {
    const dir = await scratchDir();
    const logDir = join(dir, 'logs');
    const url = pgServer!.url;
    const setup = createPgDb({ url, maxConnections: 2 });
    await migrate(setup);
    await setup.close();
    const config = loadConfig({
      DATABASE_URL: url,
      CODEX_IMAGE_GATEWAY_MASTER_KEY: randomBytes(32).toString('hex'),
      CODEX_IMAGE_GATEWAY_DATA_DIR: dir,
      CODEX_IMAGE_LOG_DIR: logDir,
      GATEWAY_LISTEN: '127.0.0.1:0',
    });
    const appLog = join(dir, 'app.log');
    const running = await runServe(config, fileLogger(appLog));
    const observer = new pg.Client({ connectionString: url });
    await observer.connect();
    try {
      const others = async () =>
        Number(
          (await observer.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()'))
            .rows[0]?.n,
        );
      expect(await others()).toBeGreaterThan(0); // serve's pool and its LISTEN connection

      injected.failDataPlaneClose = true;
      await expect(running.stop()).rejects.toThrow('injected: data plane close failed');

      await waitFor("serve's connections to end", async () => (await others()) === 0);
      expect(existsSync(join(logDir, REQUEST_LOG_FILES.lock))).toBe(false);
      const log = await readFile(appLog, 'utf8');
      expect(log).toContain('"msg":"serve shutdown step failed"');
    } finally {
      await observer.end();
    }
  });
});
