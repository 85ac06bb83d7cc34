import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminClient } from '../../src/control/admin-client.js';
import type { ControlApi } from '../../src/control/control-api.js';
import { spawnStart, type CliDaemon } from '../support/cli-process.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from '../support/fake-codex-upstream.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';
import { sendUntilStopped, type TrafficCounts } from '../support/usage-traffic.js';

const SLOW_MS = 240_000;
let dir = '';
let fake: FakeCodexUpstream;
const daemons: CliDaemon[] = [];
const dataDir = () => join(dir, 'data');
// Only the shutdown flush could write usage with this interval: whatever the database holds after a
// kill -9 came from the journal.
const ENV = () => ({ CODEX_UPSTREAM_BASE_URL: fake.baseUrl, USAGE_FLUSH_MS: '600000' });

async function startGateway(): Promise<{ daemon: CliDaemon; gatewayUrl: string; admin: ControlApi }> {
  const { daemon, instance } = await spawnStart(dataDir(), ENV());
  daemons.push(daemon);
  const token = (await readFile(join(dataDir(), 'admin-token'), 'utf8')).trim();
  return { daemon, gatewayUrl: instance.gatewayUrl, admin: createAdminClient({ baseUrl: instance.adminUrl, token }) };
}

/** Each key's rollup sums over all stored history. */
async function rollupsByKey(admin: ControlApi): Promise<Map<string | undefined, { requests: number; successes: number; images: number; totalTokens: number }>> {
  const report = await admin.usage.report({ sinceMs: 0, untilMs: Date.now() + 3_600_000, by: ['key'] });
  return new Map(report.rows.map((r) => [r.key, { requests: r.requests, successes: r.successes, images: r.images, totalTokens: r.totalTokens }]));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-journal-'));
  fake = await startFakeCodexUpstream();
}, SLOW_MS);

afterAll(async () => {
  for (const daemon of daemons) await daemon.stop();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
}, SLOW_MS);

describe('usage survives kill -9 (start, embedded database)', () => {
  it('every success a client saw is counted after a kill -9 mid-traffic and a restart, exactly once', { timeout: SLOW_MS }, async () => {
    const first = await startGateway();
    await first.admin.accounts.import({ auth: makeCodexAuthJson({ accountId: 'journal-1' }), name: 'journal-1', imageConcurrency: 16 });
    const keys = await Promise.all(['a', 'b'].map((name) => first.admin.keys.create({ name: `journal-${name}` })));
    const counts = new Map<string, TrafficCounts>(keys.map((k) => [k.key.id, { successes: 0, sent: 0 }]));
    const stop = new AbortController();
    const traffic = keys.flatMap((k) =>
      [0, 1, 2].map(() =>
        sendUntilStopped({ url: `${first.gatewayUrl}/v1/images/generations`, secret: k.secret, counts: counts.get(k.key.id)!, signal: stop.signal }),
      ),
    );
    const total = () => [...counts.values()].reduce((sum, c) => sum + c.successes, 0);
    await waitFor('traffic to be well under way', () => total() >= 60, 60_000, 5);
    first.daemon.child.kill('SIGKILL');
    await first.daemon.exited;
    stop.abort();
    await Promise.all(traffic);
    expect(total()).toBeGreaterThanOrEqual(60);

    const second = await startGateway();
    const replayedSuccesses = new Map<string, number>();
    for (const key of keys) {
      const { usage } = await second.admin.keys.get(key.key.id);
      replayedSuccesses.set(key.key.id, usage.successes);
      const seen = counts.get(key.key.id)!;
      // Every success a client saw is counted; a request cut by the kill after its usage was journaled may be too.
      expect(usage.successes, key.key.name).toBeGreaterThanOrEqual(seen.successes);
      expect(usage.successes, key.key.name).toBeLessThanOrEqual(seen.successes + (seen.cut ?? 0));
      expect(usage.images, key.key.name).toBe(usage.successes);
      // Requests cut by the kill before their answer was complete may or may not count, never more than were sent.
      expect(usage.requests).toBeGreaterThanOrEqual(seen.successes);
      expect(usage.requests).toBeLessThanOrEqual(seen.sent);
    }
    // The hourly rollups were journaled and replayed with the counters: they agree exactly.
    const rollups = await rollupsByKey(second.admin);
    for (const key of keys) {
      const { usage } = await second.admin.keys.get(key.key.id);
      expect(rollups.get(key.key.id)).toEqual({ requests: usage.requests, successes: usage.successes, images: usage.images, totalTokens: usage.totalTokens });
    }
    await second.daemon.waitFor(/replayed the usage journal of a stopped process/);
    // The dead process's journal is gone; only the live one's directory is left.
    expect(await readdir(join(dataDir(), 'usage-journal'))).toHaveLength(1);

    // A second restart adds nothing more: the replayed journal is not replayed twice.
    expect(await second.daemon.stop()).toBe(0);
    expect(await readdir(join(dataDir(), 'usage-journal'))).toEqual([]);
    const third = await startGateway();
    for (const key of keys) expect((await third.admin.keys.get(key.key.id)).usage.successes).toBe(replayedSuccesses.get(key.key.id));
    expect(await rollupsByKey(third.admin)).toEqual(rollups);
    expect(third.daemon.output()).not.toMatch(/replayed the usage journal/);
  });
});
