import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminClient } from '../../src/control/admin-client.js';
import { readInstanceFile, type InstanceInfo } from '../../src/control/instance-file.js';
import { runCli, spawnStart, type CliDaemon } from '../support/cli-process.js';
import { fakeBehaviors, startFakeCodexUpstream, type FakeCodexUpstream } from '../support/fake-codex-upstream.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';

const SLOW_MS = 120_000;
let dir = '';
let fake: FakeCodexUpstream;
let daemon: CliDaemon;
let instance: InstanceInfo;
const dataDir = () => join(dir, 'data');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-lifecycle-'));
  fake = await startFakeCodexUpstream();
  // A long usage flush interval: only the shutdown flush can write this test's usage.
  ({ daemon, instance } = await spawnStart(dataDir(), {
    CODEX_UPSTREAM_BASE_URL: fake.baseUrl,
    USAGE_FLUSH_MS: '600000',
  }));
}, SLOW_MS);

afterAll(async () => {
  await daemon?.stop();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
}, SLOW_MS);

describe('process lifecycle of start', () => {
  it('a second start on the same data directory refuses with a clear message', { timeout: SLOW_MS }, async () => {
    const second = await runCli(['start', '--data-dir', dataDir(), '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0']);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/in use/i);
    expect(second.stderr).toContain(String(daemon.child.pid));
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the start log names the console URL, and the admin root redirects to it', { timeout: SLOW_MS }, async () => {
    expect(daemon.output()).toContain(`"consoleUrl":"${instance.adminUrl}/admin/"`);
    const root = await fetch(`${instance.adminUrl}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/admin/']);
  });

  it('SIGTERM lets an in-flight generation finish, refuses new work, flushes usage, exits 0', { timeout: SLOW_MS }, async () => {
    const token = (await readFile(join(dataDir(), 'admin-token'), 'utf8')).trim();
    const admin = createAdminClient({ baseUrl: instance.adminUrl, token });
    await admin.accounts.import({ auth: makeCodexAuthJson({ accountId: 'drain-1' }), name: 'drain-1' });
    const created = await admin.keys.create({ name: 'drain' });
    fake.setBehavior('drain-1', [fakeBehaviors.success({ delayMs: 1_500 })]);
    const inFlight = fetch(`${instance.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'finish me' }),
    });
    await waitFor('the request to reach the upstream', () => fake.concurrency.current('drain-1') === 1 || null);
    daemon.child.kill('SIGTERM');
    await waitFor('the gateway to stop accepting', async () => {
      const late = await fetch(`${instance.gatewayUrl}/healthz`).then(
        (r) => r.status,
        () => 'refused',
      );
      return late !== 200 || null;
    });
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(1);
    expect(await daemon.exited).toBe(0);
    expect(await readInstanceFile(dataDir())).toBeNull();
    expect(daemon.output()).toMatch(/shutdown flushed usage of 1 request\(s\) on 1 key\(s\) and [1-9]\d* request-log line\(s\) in all"/);

    const shown = await runCli(['keys', 'show', created.key.id, '--json', '--data-dir', dataDir()]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ usage: { requests: 1, successes: 1, images: 1 } });
  });
});
