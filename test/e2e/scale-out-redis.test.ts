import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_UPSTREAM, startCaddy, type RunningCaddy } from '../support/caddy.js';
import { REPO_ROOT, runCli, spawnCli, type CliDaemon } from '../support/cli-process.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { findFreePort } from '../support/free-port.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { setUpPostgresDeployment } from '../support/postgres-deployment.js';
import { findRedisServer, startRedis, type RedisServer } from '../support/redis.js';
import { findSystemTool } from '../support/system-tool.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Three `serve` processes on one Postgres and one Redis, behind a real Caddy (the shipped
 * scale-out Caddyfile, round robin): the limits hold for the deployment, not per process.
 */
/**
 * Short enough for the kill -9 case to wait little; long enough, with the command timeout, that a
 * loaded CI machine does not make an instance fall back to local limits (split caps) by itself.
 */
const LEASE_TTL_MS = 2_000;
const ADMIN_TOKEN = 'scale-out-admin-token-0123456789';
const deployment = await setUpPostgresDeployment('scale-out-redis');
const redisBin = findRedisServer();
const caddyBin = findSystemTool('caddy', 'apt-get install caddy', ['/usr/bin/caddy']);
const SCALE_OUT = readFileSync(join(REPO_ROOT, 'deploy', 'Caddyfile.scale-out'), 'utf8');
const SHIPPED_INSTANCES = '127.0.0.1:19091 127.0.0.1:19092 127.0.0.1:19093';

interface Instance {
  daemon: CliDaemon;
  url: string;
}

describe.skipIf(!deployment || !redisBin || !caddyBin)('three serve instances sharing limits through Redis', () => {
  const d = () => deployment!;
  let redis: RedisServer;
  let caddy: RunningCaddy;
  const instances: Instance[] = [];
  const secrets: Record<string, string> = {};
  const accountIds: Record<string, string> = {};

  const env = () =>
    d().env({
      REDIS_URL: redis.url,
      LEASE_TTL_MS: String(LEASE_TTL_MS),
      REDIS_COMMAND_TIMEOUT_MS: '1000',
      INSTANCE_HEARTBEAT_MS: '300',
      SNAPSHOT_POLL_MS: '500',
      ADMISSION_WAIT_MS: '20000',
      RATE_LIMIT_COOLDOWN_CAP_MS: '60000',
      ADMIN_TOKEN: ADMIN_TOKEN,
      LOG_LEVEL: 'info',
    });

  async function startInstance(): Promise<Instance> {
    const port = await findFreePort();
    const daemon = spawnCli(['serve', '--listen', `127.0.0.1:${port}`, '--log-dir', join(d().dir, `logs-${port}`)], env());
    d().daemons.push(daemon);
    await daemon.waitFor(/"gatewayUrl":"(http:\/\/[^"]+)"/);
    return { daemon, url: `http://127.0.0.1:${port}` };
  }

  /** Account `id` with image concurrency `cap`, and a key routed only to it. */
  async function accountWithKey(id: string, cap: number, keyFlags: string[] = []): Promise<void> {
    const file = join(d().dir, `${id}.json`);
    await writeFile(file, JSON.stringify(makeCodexAuthJson({ accountId: id })));
    const imported = await runCli(['accounts', 'import', file, '--name', id, '--image-concurrency', String(cap), '--json'], { env: env() });
    expect(imported.code, imported.stderr).toBe(0);
    accountIds[id] = (await runCli(['accounts', 'show', id, '--json'], { env: env() }).then((r) => JSON.parse(r.stdout) as { id: string })).id;
    const created = await runCli(['keys', 'create', '--name', `key-${id}`, '--accounts', id, ...keyFlags, '--json'], { env: env() });
    expect(created.code, created.stderr).toBe(0);
    secrets[id] = (JSON.parse(created.stdout) as { secret: string }).secret;
  }

  const generate = (base: string, account: string, signal?: AbortSignal, fields: Record<string, unknown> = {}) =>
    request(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets[account]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `for ${account}`, ...fields }),
      ...(signal ? { signal } : {}),
    }).then(async (res) => ({ status: res.statusCode, body: (await res.body.json()) as { error?: { code: string } } }));

  const metrics = async (instance: Instance) => (await request(`${instance.url}/metrics`)).body.text();
  const modeOf = async (instance: Instance) => (/^codex_image_coordination_mode\{mode="shared"\} 1$/m.test(await metrics(instance)) ? 'shared' : 'local');
  const requestsServed = async (instance: Instance) =>
    [...(await metrics(instance)).matchAll(/^codex_image_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  const upstreamCalls = (account: string) => d().fake.requests.filter((r) => r.accountId === account);

  beforeAll(async () => {
    redis = await startRedis(redisBin!);
    const migrated = await runCli(['migrate'], { env: env() });
    expect(migrated.code, migrated.stderr).toBe(0);
    await Promise.all([
      accountWithKey('cap-2', 2),
      accountWithKey('key-conc', 10, ['--max-concurrency', '2']),
      accountWithKey('key-interval', 10, ['--min-interval-ms', '60000']),
      accountWithKey('limited', 3),
      accountWithKey('cleared', 3),
      accountWithKey('killed', 1),
      accountWithKey('outage', 3),
      accountWithKey('turns', 1),
      accountWithKey('budget', 10, ['--quota-period', 'day', '--quota-images', '4']),
    ]);
    // A second key on the `turns` account: two keys waiting for one place.
    const second = await runCli(['keys', 'create', '--name', 'key-turns-y', '--accounts', 'turns', '--json'], { env: env() });
    expect(second.code, second.stderr).toBe(0);
    secrets['turns-y'] = (JSON.parse(second.stdout) as { secret: string }).secret;
    instances.push(...(await Promise.all([startInstance(), startInstance(), startInstance()])));
    const upstreams = instances.map((i) => i.url.replace('http://', '')).join(' ');
    const rendered = SCALE_OUT.replace(SHIPPED_INSTANCES, upstreams).replace('lb_policy least_conn', 'lb_policy round_robin');
    caddy = await startCaddy(caddyBin!, SHIPPED_UPSTREAM, () => rendered);
    for (const instance of instances) expect(await modeOf(instance)).toBe('shared');
  }, 60_000);

  afterAll(async () => {
    await caddy?.stop();
    await redis?.close();
  });

  it('60 parallel requests through Caddy reach all three; the upstream never sees more than the account cap of 2', async () => {
    d().fake.setBehavior('cap-2', fakeBehaviors.success({ delayMs: 40 }));
    const results = await Promise.all(Array.from({ length: 60 }, () => generate(caddy.url, 'cap-2')));
    expect(results.map((r) => r.status)).toEqual(Array(60).fill(200));
    // Still shared on every instance (a fall-back to local limits would split the cap instead).
    expect(await Promise.all(instances.map(modeOf))).toEqual(['shared', 'shared', 'shared']);
    expect(d().fake.concurrency.max('cap-2')).toBe(2);
    const served = await Promise.all(instances.map(requestsServed));
    expect(
      served.every((n) => n >= 10),
      `requests per instance: ${served.join(', ')}`,
    ).toBe(true);
  });

  it("a key's max_concurrency of 2 holds across the three instances", async () => {
    d().fake.setBehavior('key-conc', fakeBehaviors.success({ delayMs: 400 }));
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => generate(instances[i % 3]!.url, 'key-conc')));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBe(2);
    expect(results.filter((r) => r.status === 429).map((r) => r.body.error?.code)).toEqual(Array(10).fill('key_rate_limited'));
    expect(d().fake.concurrency.max('key-conc')).toBe(2);
  });

  it("a key's day budget of 4 images holds across the three instances: 12 at once start exactly 4, and the 4 spent stay counted", async () => {
    d().fake.setBehavior('budget', fakeBehaviors.success({ delayMs: 300 }));
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => generate(instances[i % 3]!.url, 'budget')));
    expect(results.filter((r) => r.status === 200)).toHaveLength(4);
    expect(results.filter((r) => r.status === 429).map((r) => r.body.error?.code)).toEqual(Array(8).fill('quota_exceeded'));
    expect(upstreamCalls('budget')).toHaveLength(4);
    // Settled in the shared budget: no instance admits a fifth, whatever its database view says yet.
    const after = await Promise.all(instances.map((instance) => generate(instance.url, 'budget')));
    expect(after.map((r) => r.body.error?.code)).toEqual(['quota_exceeded', 'quota_exceeded', 'quota_exceeded']);
  });

  it('n = 2 (two parts in parallel, the key admitted on its own) counts once against max_concurrency 2 across instances', async () => {
    d().fake.setBehavior('key-conc', fakeBehaviors.success({ delayMs: 400 }));
    const fanOut = generate(instances[0]!.url, 'key-conc', undefined, { n: 2 });
    await waitFor('both parts at the upstream', () => d().fake.concurrency.current('key-conc') === 2 || null);
    // The fan-out holds one of the key's two places: of four single requests elsewhere, one gets the other.
    const singles = await Promise.all(Array.from({ length: 4 }, (_, i) => generate(instances[(i % 2) + 1]!.url, 'key-conc')));
    expect(singles.filter((r) => r.status === 200)).toHaveLength(1);
    const answer = await fanOut;
    expect(answer.status).toBe(200);
    expect((answer.body as { data?: unknown[] }).data).toHaveLength(2);
  });

  it('async jobs on two instances share the account cap of 2 with plain requests on the third', async () => {
    d().fake.reset();
    d().fake.setBehavior('cap-2', fakeBehaviors.success({ delayMs: 150 }));
    const jobHeaders = { authorization: `Bearer ${secrets['cap-2']}`, 'content-type': 'application/json', prefer: 'respond-async' };
    const submitted = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        request(`${instances[i % 2]!.url}/v1/images/generations`, { method: 'POST', headers: jobHeaders, body: JSON.stringify({ prompt: `job ${i}` }) }).then(
          async (res) => ({ status: res.statusCode, id: ((await res.body.json()) as { id: string }).id, base: instances[i % 2]!.url }),
        ),
      ),
    );
    expect(submitted.map((s) => s.status)).toEqual([202, 202, 202, 202]);
    const plain = await Promise.all(Array.from({ length: 4 }, () => generate(instances[2]!.url, 'cap-2')));
    expect(plain.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const done = await Promise.all(
      submitted.map((s) =>
        request(`${s.base}/v1/images/jobs/${s.id}?wait=20`, { headers: { authorization: `Bearer ${secrets['cap-2']}` } }).then(
          async (res) => ((await res.body.json()) as { status: string }).status,
        ),
      ),
    );
    expect(done).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(d().fake.concurrency.max('cap-2')).toBe(2);
  });

  it("a key's min_start_interval_ms holds across the three instances: one start of six", async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => generate(instances[i % 3]!.url, 'key-interval')));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(upstreamCalls('key-interval')).toHaveLength(1);
  });

  it('an account rate limited through one instance gets no request from any instance until its reset', async () => {
    d().fake.setBehavior('limited', [fakeBehaviors.rateLimited({ resetsInSeconds: 2 })]);
    const first = await generate(instances[0]!.url, 'limited');
    expect(first.status).toBe(429);
    const limitedAt = upstreamCalls('limited')[0]!.receivedAtMs;
    // Every instance refuses it without calling the upstream while the reset is ahead.
    for (const instance of instances) expect((await generate(instance.url, 'limited')).status).toBe(429);
    expect(upstreamCalls('limited')).toHaveLength(1);
    await waitFor('the account to serve again', async () => ((await generate(instances[2]!.url, 'limited')).status === 200 ? true : null), 10_000, 100);
    const calls = upstreamCalls('limited');
    expect(calls).toHaveLength(2);
    expect(calls[1]!.receivedAtMs - limitedAt).toBeGreaterThanOrEqual(2_000);
  });

  it("an operator's cooldown clear through one instance's status endpoint ends it for every instance", async () => {
    d().fake.setBehavior('cleared', [fakeBehaviors.rateLimited({ resetsInSeconds: 600 })]);
    expect((await generate(instances[0]!.url, 'cleared')).status).toBe(429);
    expect((await generate(instances[2]!.url, 'cleared')).status).toBe(429);
    const cleared = await request(`${instances[1]!.url}/status/accounts/${accountIds.cleared}/clear-cooldown`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(cleared.statusCode).toBe(200);
    await cleared.body.dump();
    await waitFor('another instance to serve it', async () => ((await generate(instances[2]!.url, 'cleared')).status === 200 ? true : null), 5_000, 50);
    expect(upstreamCalls('cleared')).toHaveLength(2);
  });

  it('kill -9 of an instance holding the only place: another instance is served within the lease TTL', async () => {
    d().fake.setBehavior('killed', [fakeBehaviors.hang(), fakeBehaviors.success()]);
    const victim = await startInstance();
    const held = generate(victim.url, 'killed').catch(() => null);
    await waitFor('the held request at the upstream', () => d().fake.concurrency.current('killed') === 1 || null);
    victim.daemon.child.kill('SIGKILL');
    const killedAt = Date.now();
    const next = await generate(instances[0]!.url, 'killed');
    expect(next.status).toBe(200);
    // Its place lapses within the TTL; the wait (the queue wakes on the lapse's next take) adds at most a renewal period.
    expect(Date.now() - killedAt).toBeLessThan(LEASE_TTL_MS + LEASE_TTL_MS / 3 + 1_000);
    await held;
  });

  it('Redis stopped mid-traffic: no request fails, the metric says local and caps are split; restarted empty: shared again, counts right', async () => {
    d().fake.setBehavior('outage', fakeBehaviors.success({ delayMs: 150 }));
    const traffic = Promise.all(Array.from({ length: 24 }, (_, i) => generate(instances[i % 3]!.url, 'outage')));
    await waitFor('traffic at the upstream', () => d().fake.concurrency.current('outage') > 0 || null);
    await redis.stop();
    const during = await traffic;
    expect(
      during.map((r) => r.status),
      JSON.stringify(during.filter((r) => r.status !== 200)),
    ).toEqual(Array(24).fill(200));
    for (const instance of instances) await waitFor('local mode', async () => ((await modeOf(instance)) === 'local' ? true : null));

    // Cap 3 split among three live instances: one place each, so one instance alone never runs two.
    d().fake.reset();
    d().fake.setBehavior('outage', fakeBehaviors.success({ delayMs: 150 }));
    const alone = await Promise.all(Array.from({ length: 4 }, () => generate(instances[0]!.url, 'outage')));
    expect(alone.map((r) => r.status)).toEqual(Array(4).fill(200));
    expect(d().fake.concurrency.max('outage')).toBe(1);

    await redis.restart();
    for (const instance of instances) await waitFor('shared mode again', async () => ((await modeOf(instance)) === 'shared' ? true : null), 10_000);
    d().fake.reset();
    d().fake.setBehavior('outage', fakeBehaviors.success({ delayMs: 150 }));
    const shared = await Promise.all(Array.from({ length: 12 }, (_, i) => generate(instances[i % 3]!.url, 'outage')));
    expect(shared.map((r) => r.status)).toEqual(Array(12).fill(200));
    // Exactly the cap again: no place leaked (fewer) and none counted twice or below zero (more).
    expect(d().fake.concurrency.max('outage')).toBe(3);
  });

  it('the wait queue spans the instances: FIFO within a key and turns across keys, whichever instance each waiter is on', async () => {
    /** A request whose prompt tells it apart at the fake upstream (it records the prompt's hash). */
    const ask = (base: string, account: string, prompt: string, signal?: AbortSignal) =>
      request(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secrets[account]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt }),
        ...(signal ? { signal } : {}),
      }).then(async (res) => ({ status: res.statusCode, body: await res.body.text() }));
    const queuedEverywhere = async () => {
      const counts = await Promise.all(instances.map(async (i) => Number(/^codex_image_queued_requests (\d+)$/m.exec(await metrics(i))?.[1] ?? Number.NaN)));
      return counts.reduce((sum, n) => sum + n, 0);
    };
    d().fake.setBehavior('turns', [fakeBehaviors.hang()]);
    const holding = new AbortController();
    const held = ask(instances[0]!.url, 'turns', 'holder', holding.signal).catch(() => null);
    await waitFor('the holder at the upstream', () => d().fake.concurrency.current('turns') === 1 || null);
    // Key x's three, then key y's three, spread over the instances; each queued before the next is sent.
    const sends = [
      ['x1', 'turns', 0],
      ['x2', 'turns', 1],
      ['x3', 'turns', 2],
      ['y1', 'turns-y', 1],
      ['y2', 'turns-y', 2],
      ['y3', 'turns-y', 0],
    ] as const;
    const labels: Record<string, string> = {};
    const answers: Promise<{ status: number }>[] = [];
    for (const [label, secret, at] of sends) {
      labels[createHash('sha256').update(label).digest('hex')] = label;
      answers.push(ask(instances[at]!.url, secret, label));
      await waitFor(`${label} queued`, async () => ((await queuedEverywhere()) === answers.length ? true : null), 10_000);
    }
    d().fake.setBehavior('turns', fakeBehaviors.success());
    holding.abort();
    await held;
    expect((await Promise.all(answers)).map((r) => r.status)).toEqual(Array(6).fill(200));
    const order = upstreamCalls('turns').map((r) => labels[r.body?.promptSha256 ?? ''] ?? 'holder');
    expect(order.filter((label) => label !== 'holder')).toEqual(['x1', 'y1', 'x2', 'y2', 'x3', 'y3']);
    expect(d().fake.concurrency.max('turns')).toBe(1);
  });
});
