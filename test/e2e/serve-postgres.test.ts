import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrator.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { setUpPostgresDeployment } from '../support/postgres-deployment.js';
import { runCli, spawnCli } from '../support/cli-process.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The production shape: a real Postgres, `migrate`, a `control` process and a separate `serve` process,
 * with the CLI writing straight to the database while `serve` runs.
 */
const deployment = await setUpPostgresDeployment('serve-postgres');

describe.skipIf(!deployment)('serve and control on Postgres', () => {
  // Read lazily: the describe body also runs (to collect skipped tests) when there is no deployment.
  const d = () => deployment!;
  const env = () => d().env({ SNAPSHOT_POLL_MS: '60000' });

  it('serve refuses an unmigrated database and names the migration and the command', async () => {
    const res = await runCli(['serve', '--listen', '127.0.0.1:0'], { env: env() });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('0001_init');
    expect(res.stderr).toMatch(/codex-image-gateway migrate/);
  });

  it('migrate, then serve + control + CLI: a key disabled by the CLI is refused by serve within a second', async () => {
    const migrated = await runCli(['migrate'], { env: env() });
    expect(migrated.code, migrated.stderr).toBe(0);
    const status = await runCli(['migrate', 'status', '--json'], { env: env() });
    expect(JSON.parse(status.stdout)).toEqual(MIGRATIONS.map((m) => expect.objectContaining({ name: m.name, applied: true })));

    const control = spawnCli(['control', '--admin-listen', '127.0.0.1:0'], { ...env(), ADMIN_TOKEN: 'admin-secret-for-test' });
    d().daemons.push(control);
    const serve = spawnCli(['serve', '--listen', '127.0.0.1:0', '--log-dir', join(d().dir, 'serve-logs')], env());
    d().daemons.push(serve);
    const gatewayUrl = (await serve.waitFor(/"gatewayUrl":"(http:\/\/[^"]+)"/))[1]!;
    const adminUrl = (await control.waitFor(/"adminUrl":"(http:\/\/[^"]+)"/))[1]!;

    const authFile = join(d().dir, 'auth.json');
    await writeFile(authFile, JSON.stringify(makeCodexAuthJson({ accountId: 'pg-acct' })));
    const imported = await runCli(['accounts', 'import', authFile, '--json'], { env: env() });
    expect(imported.code, imported.stderr).toBe(0);
    const created = await runCli(['keys', 'create', '--name', 'pg-key', '--json'], { env: env() });
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; secret: string };

    const sdk = new OpenAI({ apiKey: key.secret, baseURL: `${gatewayUrl}/v1`, maxRetries: 0 });
    await waitFor(
      'serve to see the new key',
      async () =>
        (await sdk.images.generate({ prompt: 'pg' }).then(
          () => true,
          () => false,
        )) || null,
    );

    const adminList = await fetch(`${adminUrl}/admin/api/keys`, { headers: { authorization: 'Bearer admin-secret-for-test' } });
    expect(adminList.status).toBe(200);

    const disabled = await runCli(['keys', 'update', key.id, '--status', 'disabled'], { env: env() });
    expect(disabled.code, disabled.stderr).toBe(0);
    const changedAt = Date.now();
    const err = await waitFor(
      'serve to refuse the disabled key',
      async () => {
        const e = await sdk.images.generate({ prompt: 'after disable' }).then(
          () => null,
          (x: unknown) => x,
        );
        return e instanceof OpenAI.PermissionDeniedError ? e : null;
      },
      3_000,
      25,
    );
    expect(Date.now() - changedAt).toBeLessThan(1_000);
    expect(err.message).toContain('this API key is disabled');

    expect(await serve.stop()).toBe(0);
    expect(await control.stop()).toBe(0);
  });
});
