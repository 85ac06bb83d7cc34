import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeCodexAuthJson } from '../support/jwt.js';
import { setUpPostgresDeployment } from '../support/postgres-deployment.js';
import { runCli, spawnCli, type CliDaemon } from '../support/cli-process.js';
import { sendUntilStopped, type TrafficCounts } from '../support/usage-traffic.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Two `serve` processes on one Postgres sharing one data directory (each with its own request-log
 * directory): one is killed with -9 mid-traffic and started again, while the other keeps running.
 */
const deployment = await setUpPostgresDeployment('usage-journal-serve');
const SLOW_MS = 240_000;

describe.skipIf(!deployment)('usage survives kill -9 (serve, Postgres)', () => {
  const d = () => deployment!;
  // Only a shutdown flush could write usage with this interval: what the database holds after the kill came from the journal.
  const env = () => d().env({ USAGE_FLUSH_MS: '600000', SNAPSHOT_POLL_MS: '60000' });

  async function spawnServe(name: string): Promise<{ daemon: CliDaemon; url: string }> {
    const daemon = spawnCli(['serve', '--listen', '127.0.0.1:0', '--log-dir', join(d().dir, `logs-${name}`)], env());
    d().daemons.push(daemon);
    const url = (await daemon.waitFor(/"gatewayUrl":"(http:\/\/[^"]+)"/, 90_000))[1]!;
    return { daemon, url };
  }

  async function storedSuccesses(keyId: string): Promise<number> {
    const shown = await runCli(['keys', 'show', keyId, '--json'], { env: env() });
    expect(shown.code, shown.stderr).toBe(0);
    return (JSON.parse(shown.stdout) as { usage: { successes: number } }).usage.successes;
  }

  it("the killed process's usage is replayed by the next start on the directory, the live one's journal is left to it", { timeout: SLOW_MS }, async () => {
    expect((await runCli(['migrate'], { env: env() })).code).toBe(0);
    const authFile = join(d().dir, 'auth.json');
    await writeFile(authFile, JSON.stringify(makeCodexAuthJson({ accountId: 'serve-journal' })));
    expect((await runCli(['accounts', 'import', authFile, '--image-concurrency', '16'], { env: env() })).code).toBe(0);
    const keys: Array<{ id: string; secret: string }> = [];
    for (const name of ['killed', 'live']) {
      const created = await runCli(['keys', 'create', '--name', name, '--json'], { env: env() });
      expect(created.code, created.stderr).toBe(0);
      keys.push(JSON.parse(created.stdout) as { id: string; secret: string });
    }
    const [killedKey, liveKey] = keys as [{ id: string; secret: string }, { id: string; secret: string }];

    const a = await spawnServe('a');
    const b = await spawnServe('b');
    const counts: Record<'a' | 'b', TrafficCounts> = { a: { sent: 0, successes: 0 }, b: { sent: 0, successes: 0 } };
    const stopA = new AbortController();
    const stopB = new AbortController();
    const traffic = [
      ...[0, 1, 2].map(() => sendUntilStopped({ url: `${a.url}/v1/images/generations`, secret: killedKey.secret, counts: counts.a, signal: stopA.signal })),
      ...[0, 1].map(() => sendUntilStopped({ url: `${b.url}/v1/images/generations`, secret: liveKey.secret, counts: counts.b, signal: stopB.signal })),
    ];
    await waitFor('traffic on both processes', () => counts.a.successes >= 40 && counts.b.successes >= 10, 60_000, 5);
    a.daemon.child.kill('SIGKILL');
    await a.daemon.exited;
    stopA.abort();
    stopB.abort();
    await Promise.all(traffic);
    expect(await readdir(join(d().dir, 'usage-journal'))).toHaveLength(2);

    const again = await spawnServe('a');
    await again.daemon.waitFor(/replayed the usage journal of a stopped process/);
    // Every success a client saw is stored; a request cut by the kill after its usage was journaled may be too.
    const stored = await storedSuccesses(killedKey.id);
    expect(stored).toBeGreaterThanOrEqual(counts.a.successes);
    expect(stored).toBeLessThanOrEqual(counts.a.successes + (counts.a.cut ?? 0));
    // b is alive: its journal was not replayed (b flushes every 10 minutes, so nothing of it is stored yet).
    expect(await storedSuccesses(liveKey.id)).toBe(0);
    expect(await readdir(join(d().dir, 'usage-journal'))).toHaveLength(2);

    expect(await b.daemon.stop()).toBe(0);
    expect(await storedSuccesses(liveKey.id)).toBe(counts.b.successes);
    expect(await again.daemon.stop()).toBe(0);
    expect(await readdir(join(d().dir, 'usage-journal'))).toEqual([]);
  });
});
