import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCipher, fingerprintMasterKey } from '../../src/control/credential-cipher.js';
import { sealMasterKeyCheck } from '../../src/store/master-key-check.js';
import { createPgliteDb } from '../../src/store/pglite-db.js';
import { runCli, spawnCli, type CliResult } from '../support/cli-process.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { seedEmbeddedDatabase } from '../support/pglite-template.js';
import { setUpPostgresDeployment } from '../support/postgres-deployment.js';
import { waitFor } from '../support/wait-for.js';

/** A wrong master key is refused at start, by `start` on the embedded database and by `serve` on Postgres. */
const SLOW_MS = 180_000;
const keyA = randomBytes(32);
const keyB = randomBytes(32);
const hexA = keyA.toString('hex');
const hexB = keyB.toString('hex');
const LISTEN = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'];

function expectRefusal(res: CliResult, expected: string | null): void {
  expect(res.code).not.toBe(0);
  const lines = res.stderr.trim().split('\n');
  expect(lines, res.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: master key does not match this database/);
  if (expected) expect(lines[0]).toContain(`expected key ${expected}`);
  expect(lines[0]).toContain(`given key ${fingerprintMasterKey(keyB)} (from CODEX_IMAGE_GATEWAY_MASTER_KEY)`);
  for (const source of ['CODEX_IMAGE_GATEWAY_MASTER_KEY_FILE', '--master-key-file', '<data-dir>/master.key']) expect(lines[0]).toContain(source);
  expect(res.stderr + res.stdout).not.toContain(hexB);
}

/** Starts `start` on the data directory and stops it once it listens (exit 0). */
async function startAndStop(dataDir: string, masterKey: string): Promise<void> {
  const daemon = spawnCli(['start', '--data-dir', dataDir, ...LISTEN], { CODEX_IMAGE_GATEWAY_MASTER_KEY: masterKey });
  await daemon.waitFor(/codex-image-gateway started/, 90_000);
  expect(await daemon.stop()).toBe(0);
}

describe('start on the embedded database', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-keycheck-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('started with key A (zero accounts), then with key B: refused, naming both fingerprints; A still starts', { timeout: SLOW_MS }, async () => {
    const dataDir = join(dir, 'fresh');
    await seedEmbeddedDatabase(dataDir);
    await startAndStop(dataDir, hexA);
    expectRefusal(await runCli(['start', '--data-dir', dataDir, ...LISTEN], { env: { CODEX_IMAGE_GATEWAY_MASTER_KEY: hexB } }), fingerprintMasterKey(keyA));
    await startAndStop(dataDir, hexA);
  });

  it('a database from before the key check, accounts sealed under A: refused with B, accepted with A, then checked', { timeout: SLOW_MS }, async () => {
    const dataDir = join(dir, 'old');
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify(makeCodexAuthJson({ accountId: 'old-acct' })));
    await seedEmbeddedDatabase(dataDir);
    await startAndStop(dataDir, hexA); // the key check is stored by the first start
    const imported = await runCli(['accounts', 'import', authFile, '--data-dir', dataDir], { env: { CODEX_IMAGE_GATEWAY_MASTER_KEY: hexA } });
    expect(imported.code, imported.stderr).toBe(0);
    // What a database migrated to 0006 from an older release looks like: accounts, no check row.
    const db = await createPgliteDb({ dataDir: join(dataDir, 'pgdata') });
    await db.query('DELETE FROM master_key_check');
    await db.close();

    expectRefusal(await runCli(['start', '--data-dir', dataDir, ...LISTEN], { env: { CODEX_IMAGE_GATEWAY_MASTER_KEY: hexB } }), null);
    await startAndStop(dataDir, hexA);
    const reopened = await createPgliteDb({ dataDir: join(dataDir, 'pgdata') });
    const rows = await reopened.query<{ fingerprint: string }>('SELECT fingerprint FROM master_key_check');
    await reopened.close();
    expect(rows).toEqual([{ fingerprint: fingerprintMasterKey(keyA) }]);
  });
});

const deployment = await setUpPostgresDeployment('master-key-check');

describe.skipIf(!deployment)('serve on Postgres', () => {
  const d = () => deployment!;

  it('control with key A, then serve with key B: refused naming both; serve with A is ready, and turns unready when the check stops matching', {
    timeout: SLOW_MS,
  }, async () => {
    const envA = () => d().env({ CODEX_IMAGE_GATEWAY_MASTER_KEY: hexA, SNAPSHOT_POLL_MS: '200' });
    const migrated = await runCli(['migrate'], { env: envA() });
    expect(migrated.code, migrated.stderr).toBe(0);
    const control = spawnCli(['control', '--admin-listen', '127.0.0.1:0'], { ...envA(), ADMIN_TOKEN: 'admin-secret-for-test' });
    d().daemons.push(control);
    await control.waitFor(/control plane started/);
    expect(await control.stop()).toBe(0);

    const refused = await runCli(['serve', '--listen', '127.0.0.1:0'], { env: d().env({ CODEX_IMAGE_GATEWAY_MASTER_KEY: hexB }) });
    expectRefusal(refused, fingerprintMasterKey(keyA));

    const serve = spawnCli(['serve', '--listen', '127.0.0.1:0', '--log-dir', join(d().dir, 'serve-logs')], envA());
    d().daemons.push(serve);
    const gatewayUrl = (await serve.waitFor(/"gatewayUrl":"(http:\/\/[^"]+)"/))[1]!;
    const readyz = () => fetch(`${gatewayUrl}/readyz`).then((r) => r.status);
    expect(await readyz()).toBe(200);

    // Another control plane with key B rewrites the check (as if it had taken over the database).
    const client = new pg.Client({ connectionString: d().pg.url });
    await client.connect();
    try {
      const sealedB = sealMasterKeyCheck(createCredentialCipher(keyB), fingerprintMasterKey(keyB));
      await client.query('UPDATE master_key_check SET fingerprint = $1, sealed = $2', [sealedB.fingerprint, sealedB.sealed]);
      await waitFor('readyz to say not ready', async () => ((await readyz()) === 503 ? true : null));
      await serve.waitFor(/master key does not open this database's credentials/);
      const sealedA = sealMasterKeyCheck(createCredentialCipher(keyA), fingerprintMasterKey(keyA));
      await client.query('UPDATE master_key_check SET fingerprint = $1, sealed = $2', [sealedA.fingerprint, sealedA.sealed]);
      await waitFor('readyz to say ready again', async () => ((await readyz()) === 200 ? true : null));
    } finally {
      await client.end();
    }
  });
});
