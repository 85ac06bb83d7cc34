import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../../src/control/instance-file.js';
import { runCli, spawnStart, type CliDaemon } from '../support/cli-process.js';
import { makeCodexAuthJson } from '../support/jwt.js';

const SLOW_MS = 120_000;

/**
 * The CLI against a running `start` instance: the data directory is locked by it, so every data
 * command must go through its admin API (found via instance.json and `<data-dir>/admin-token`) and
 * print the same lines as in direct mode.
 */
describe('CLI while a running instance holds the data directory', () => {
  let dir = '';
  let daemon: CliDaemon | null = null;
  let instance: InstanceInfo | null = null;
  const dataDir = () => join(dir, 'data');
  const cli = (args: string[], input?: string) => runCli([...args, '--data-dir', dataDir()], { input });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-remote-'));
    ({ daemon, instance } = await spawnStart(dataDir()));
  }, SLOW_MS);

  afterAll(async () => {
    await daemon?.stop();
    await rm(dir, { recursive: true, force: true });
  }, SLOW_MS);

  it('instance.json names the running process', () => {
    expect(instance?.pid).toBe(daemon?.child.pid);
    expect(instance?.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
  });

  it('keys create/list/update/delete go through the admin API', { timeout: SLOW_MS }, async () => {
    const created = await cli(['keys', 'create', '--name', 'remote', '--max-concurrency', '2', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { secret } = JSON.parse(created.stdout) as { secret: string };
    expect(secret).toMatch(/^cig_/);
    const updated = await cli(['keys', 'update', 'remote', '--max-concurrency', 'unlimited', '--json']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ max_concurrency: null });
    const list = await cli(['keys', 'list', '--json']);
    expect(JSON.parse(list.stdout).map((k: { name: string }) => k.name)).toEqual(['remote']);
    expect(list.stdout).not.toContain(secret);
    const deleted = await cli(['keys', 'delete', 'remote']);
    expect(deleted.code, deleted.stderr).toBe(0);
  });

  it('accounts import from a file and from stdin, with no token in any output', { timeout: SLOW_MS }, async () => {
    const auth = makeCodexAuthJson({ accountId: 'acct-remote', email: 'remote@example.com' });
    const file = join(dir, 'auth.json');
    await writeFile(file, JSON.stringify(auth));
    const imported = await cli(['accounts', 'import', file, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ name: 'remote@example.com', account_id: 'acct-remote' });
    const fromStdin = await cli(
      ['accounts', 'import', '-', '--name', 'piped', '--image', 'off'],
      JSON.stringify(makeCodexAuthJson({ accountId: 'acct-piped' })),
    );
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const show = await cli(['accounts', 'show', 'piped']);
    expect(show.stdout).toMatch(/^image +off$/m);
    // A re-import through the admin API (200) says updated and leaves image off: no --image default.
    const again = await cli(['accounts', 'import', '-', '--name', 'piped'], JSON.stringify(makeCodexAuthJson({ accountId: 'acct-piped' })));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toMatch(/^updated account piped \(changed: tokens(, expiry)?; plus, token expires \S+, image off\)$/);
    for (const out of [imported, fromStdin, show, again]) {
      for (const token of [auth.tokens.access_token, auth.tokens.refresh_token, auth.tokens.id_token]) {
        expect(out.stdout + out.stderr).not.toContain(token);
      }
    }
  });

  it('errors print the same one line as in direct mode', { timeout: SLOW_MS }, async () => {
    const range = await cli(['keys', 'create', '--name', 'bad', '--max-concurrency', '1025']);
    expect(range.code).toBe(1);
    expect(range.stderr.trim()).toBe('error: max_concurrency must be an integer between 1 and 1024');
    const missing = await cli(['groups', 'show', 'ghost']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('error: group not found');
  });

  it('models set/list/remove/reset go through the admin API', { timeout: SLOW_MS }, async () => {
    const set = await cli(['models', 'set', 'openai/dall-e-3', 'gpt-image-2', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ alias: 'openai/dall-e-3', upstream_model: 'gpt-image-2', pattern: false });
    const list = await cli(['models', 'list', '--json']);
    expect(JSON.parse(list.stdout).map((r: { alias: string }) => r.alias)).toContain('openai/dall-e-3');
    const removed = await cli(['models', 'remove', 'openai/dall-e-3']);
    expect([removed.code, removed.stdout.trim()]).toEqual([0, 'removed model alias openai/dall-e-3']);
    const missing = await cli(['models', 'remove', 'openai/dall-e-3']);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, 'error: model alias not found']);
    const reset = await cli(['models', 'reset', '--json']);
    expect(JSON.parse(reset.stdout)).toHaveLength(9);
  });

  it('migrate refuses while the instance holds the directory', { timeout: SLOW_MS }, async () => {
    const result = await cli(['migrate']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^error: data directory .* is in use by a running instance \(pid \d+\)/);
  });
});
