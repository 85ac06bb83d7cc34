import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex-upstream.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { setUpPostgresDeployment } from '../support/postgres-deployment.js';
import { runCli, spawnCli, type CliDaemon } from '../support/cli-process.js';
import { waitFor } from '../support/wait-for.js';
import type { Wire } from '../../src/control/admin-wire.js';
import type { InstanceView } from '../../src/control/control-api.js';

/**
 * Two `serve` instances on one Postgres. Async jobs live in the database, so either instance answers
 * for a job the other ran; an instance killed with a job running has that job end
 * `failed`/`instance_lost` once its heartbeat is stale, never stuck. The instance registry: a
 * `control` lists every process and reads Activity from both data planes, found through it.
 */
const deployment = await setUpPostgresDeployment('jobs-postgres');
const ADMIN_TOKEN = 'jobs-postgres-admin-token';

/** An instance as the admin API and `instances --json` send it. */
type WireInstance = Wire<InstanceView>;

describe.skipIf(!deployment)('async jobs on two serve instances sharing Postgres', () => {
  // Read lazily: the describe body also runs (to collect skipped tests) when there is no deployment.
  const d = () => deployment!;
  const env = () => d().env({ JOB_HEARTBEAT_MS: '200', JOB_INSTANCE_TIMEOUT_MS: '1500', ADMIN_TOKEN });
  const serve = async (name: string) => {
    const daemon = spawnCli(['serve', '--listen', '127.0.0.1:0', '--log-dir', join(d().dir, `${name}-logs`)], env());
    d().daemons.push(daemon);
    return { daemon, url: (await daemon.waitFor(/"gatewayUrl":"(http:\/\/[^"]+)"/))[1]! };
  };
  let secret: string;
  let a: { daemon: CliDaemon; url: string };
  let b: { daemon: CliDaemon; url: string };
  let c: { daemon: CliDaemon; url: string };
  let adminUrl = '';
  const admin = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${adminUrl}/admin/api${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as T;
  const instances = async () => (await admin<{ data: WireInstance[] }>('/instances')).data;
  const generate = async (base: string): Promise<string> => {
    const res = await fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a plain request' }),
    });
    expect(res.status).toBe(200);
    return res.headers.get('x-request-id')!;
  };

  const submit = (base: string) =>
    fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ prompt: 'a job that crosses instances' }),
    }).then(async (res) => ({ status: res.status, job: (await res.json()) as { id: string } }));
  const get = (base: string, id: string, query = '') =>
    fetch(`${base}/v1/images/jobs/${id}${query}`, { headers: { authorization: `Bearer ${secret}` } }).then(
      async (res) => (await res.json()) as { status: string; result?: { data: unknown[] }; error?: { code: string } },
    );

  beforeAll(async () => {
    expect((await runCli(['migrate'], { env: env() })).code).toBe(0);
    const authFile = join(d().dir, 'auth.json');
    await writeFile(authFile, JSON.stringify(makeCodexAuthJson({ accountId: 'jobs-acct' })));
    expect((await runCli(['accounts', 'import', authFile], { env: env() })).code).toBe(0);
    const created = await runCli(['keys', 'create', '--name', 'jobs-key', '--json'], { env: env() });
    secret = (JSON.parse(created.stdout) as { secret: string }).secret;
    [a, b] = await Promise.all([serve('a'), serve('b')]);
  });

  it('a job submitted to one instance is fetched, with its result, from the other', async () => {
    d().fake.setBehavior('*', fakeBehaviors.success({ delayMs: 200 }));
    const submitted = await waitFor('instance a to know the key', async () => {
      const s = await submit(a.url);
      return s.status === 202 ? s : null;
    });
    const done = await get(b.url, submitted.job.id, '?wait=20');
    expect(done.status).toBe('succeeded');
    expect(done.result!.data).toHaveLength(1);
  });

  it('a control lists both serves and itself, and its Activity holds the requests made through both', async () => {
    const control = spawnCli(['control', '--admin-listen', '127.0.0.1:0'], env());
    d().daemons.push(control);
    adminUrl = (await control.waitFor(/"adminUrl":"(http:\/\/[^"]+)"/))[1]!;
    d().fake.setBehavior('*', fakeBehaviors.success());
    const requestIds = [await generate(a.url), await generate(b.url)];
    const live = (await instances()).filter((i) => i.live);
    expect(live.map((i) => [i.role, i.state, i.listen_url, i.status_url]).sort()).toEqual([
      ['control', 'live', null, null],
      ...[a.url, b.url].sort().map((url) => ['serve', 'live', url, url]),
    ]);
    const serveIds = [a.url, b.url].map((url) => live.find((i) => i.listen_url === url)!.id).sort();
    const answered = (gateways: Array<{ instance_id: string | null; ok: boolean }>) =>
      gateways
        .filter((g) => g.ok)
        .map((g) => g.instance_id)
        .sort();
    const activity = await admin<{ data: Array<{ request_id: string }>; sources: number; gateways: Array<{ instance_id: string | null; ok: boolean }> }>(
      '/activity',
    );
    expect(activity.sources).toBe(2);
    expect(answered(activity.gateways)).toEqual(serveIds);
    expect(activity.data.map((e) => e.request_id)).toEqual(expect.arrayContaining(requestIds));
    const overview = await admin<{ sources: number; gateways: Array<{ instance_id: string | null; ok: boolean }>; totals: { requests: number } }>(
      '/overview?minutes=5',
    );
    expect(answered(overview.gateways)).toEqual(serveIds);
    expect(overview.totals.requests).toBeGreaterThanOrEqual(2);
  });

  it('SIGTERM lets a running job finish before the instance exits', async () => {
    c = await serve('c');
    d().fake.setBehavior('*', fakeBehaviors.success({ delayMs: 1_500 }));
    const submitted = await waitFor('instance c to know the key', async () => {
      const s = await submit(c.url);
      return s.status === 202 ? s : null;
    });
    await waitFor('the job to run', async () => ((await get(b.url, submitted.job.id)).status === 'running' ? true : null));
    expect(await c.daemon.stop()).toBe(0);
    expect((await get(b.url, submitted.job.id)).status).toBe('succeeded');
  });

  it("a killed instance's running job ends failed with instance_lost", async () => {
    d().fake.setBehavior('*', fakeBehaviors.success({ delayMs: 60_000 }));
    const submitted = await submit(a.url);
    expect(submitted.status).toBe(202);
    await waitFor('the job to run', async () => ((await get(b.url, submitted.job.id)).status === 'running' ? true : null));
    a.daemon.child.kill('SIGKILL');
    await a.daemon.exited;
    const lost = await waitFor(
      'the job to be declared lost',
      async () => {
        const view = await get(b.url, submitted.job.id);
        return view.status === 'failed' ? view : null;
      },
      15_000,
    );
    expect(lost.error).toMatchObject({ code: 'instance_lost' });
    // The registry: the killed instance is dead (no stop mark), the one stopped with SIGTERM is stopped.
    const rows = await instances();
    const stateOf = (url: string) => rows.find((i) => i.listen_url === url)?.state;
    expect([stateOf(a.url), stateOf(b.url), stateOf(c.url)]).toEqual(['dead', 'live', 'stopped']);
  });
});
