import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { CliDaemon } from './cli-process.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from './fake-codex-upstream.js';
import { startPostgres, type PostgresServer } from './postgres.js';

/** The production shape for one test file: a real Postgres, the fake upstream, a scratch data dir and a master key. */
export interface PostgresDeployment {
  pg: PostgresServer;
  fake: FakeCodexUpstream;
  dir: string;
  /** Processes the file started; stopped after the file's tests. */
  daemons: CliDaemon[];
  /** The environment every process of the deployment shares, plus `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
}

/**
 * Starts the deployment's parts and registers their cleanup after the file's tests. Null (with a
 * warning saying what to install) when no Postgres can be started locally; CI installs it.
 */
export async function setUpPostgresDeployment(label: string): Promise<PostgresDeployment | null> {
  const pg = await startPostgres();
  if (!pg) {
    console.warn(`${label}: skipped locally; apt-get install postgresql to run it`);
    return null;
  }
  const fake = await startFakeCodexUpstream();
  const dir = await mkdtemp(join(tmpdir(), 'cig-pg-deploy-'));
  const daemons: CliDaemon[] = [];
  const masterKey = randomBytes(32).toString('hex');
  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await fake.close();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    pg,
    fake,
    dir,
    daemons,
    env: (extra = {}) => ({
      DATABASE_URL: pg.url,
      CODEX_IMAGE_GATEWAY_MASTER_KEY: masterKey,
      CODEX_UPSTREAM_BASE_URL: fake.baseUrl,
      CODEX_IMAGE_GATEWAY_DATA_DIR: dir,
      ...extra,
    }),
  };
}
