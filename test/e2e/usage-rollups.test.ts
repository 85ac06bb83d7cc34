import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE_REPORT_MEASURE_COLUMNS } from '../../src/control/usage-report.js';
import { toSnakeName } from '../../src/control/admin-wire.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
let adminToken: string;
beforeAll(async () => {
  h = await startGatewayHarness({ env: { USAGE_FLUSH_MS: '50' } });
  adminToken = (await readFile(join(h.dataDir, 'admin-token'), 'utf8')).trim();
});
afterAll(async () => h?.stop());

const EVERYTHING = { sinceMs: 0, untilMs: Date.now() + 3_600_000 };

/** Sends one image request and returns the status the client got (its body read to the end). */
async function sendImage(secret: string, i: number, n = 1): Promise<number> {
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: `rollup ${i}`, n }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('usage rollups', () => {
  it('rollups of successes and failures on 2 keys and 2 accounts equal the key counters and what the clients counted', async () => {
    const accounts = await Promise.all(['roll-1', 'roll-2'].map((id) => h.importAccount(id, { imageConcurrency: 8 })));
    const keyA = await h.createKey({ name: 'roll-a', routing: { mode: 'accounts', accounts: ['roll-1'] } });
    const keyB = await h.createKey({ name: 'roll-b', routing: { mode: 'accounts', accounts: ['roll-2'] } });
    h.fake.setBehavior('roll-1', fakeBehaviors.success({ usage: { input_tokens: 5, output_tokens: 20 } }));
    // Key B's first 4 requests get an upstream 400 (final, no failover): failures of class `client`.
    h.fake.setBehavior('roll-2', [...Array.from({ length: 4 }, () => fakeBehaviors.detailError(400, 'bad prompt')), fakeBehaviors.success()]);
    // Key A's last request asks for 2 images: one request in the rollups, two images.
    const sent = { [keyA.id]: 12, [keyB.id]: 10 };
    const statuses = await Promise.all(
      [keyA, keyB].flatMap((key) =>
        Array.from({ length: sent[key.id]! }, (_, i) => sendImage(key.secret, i, key === keyA && i === 11 ? 2 : 1).then((status) => ({ key: key.id, status }))),
      ),
    );
    const okBy = (id: string) => statuses.filter((s) => s.key === id && s.status === 200).length;
    expect([okBy(keyA.id), okBy(keyB.id)]).toEqual([12, 6]);

    const byKey = await waitFor('the rollups to hold every request', async () => {
      const report = await h.admin.usage.report({ ...EVERYTHING, by: ['key'] });
      return report.rows.reduce((n, row) => n + row.requests, 0) === 22 ? report.rows : null;
    });
    for (const key of [keyA, keyB]) {
      const { usage } = await h.admin.keys.get(key.id);
      const row = byKey.find((r) => r.key === key.id)!;
      expect({
        requests: row.requests,
        successes: row.successes,
        images: row.images,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
        totalTokens: row.totalTokens,
        usageMissing: row.usageMissing,
      }).toEqual({
        requests: usage.requests,
        successes: usage.successes,
        images: usage.images,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        totalTokens: usage.totalTokens,
        usageMissing: usage.usageMissing,
      });
      expect(row.requests).toBe(sent[key.id]);
      expect(row.successes).toBe(okBy(key.id));
      expect(row.latencyBuckets.reduce((a, b) => a + b, 0)).toBe(row.requests);
      expect(row.upstreamBytes).toBeGreaterThan(0);
    }
    expect(byKey.find((r) => r.key === keyA.id)).toMatchObject({ images: 13, failuresClient: 0 });
    expect(byKey.find((r) => r.key === keyB.id)).toMatchObject({ failuresClient: 4, failuresUpstream: 0, failuresRateLimited: 0 });

    const byAccount = await h.admin.usage.report({ ...EVERYTHING, by: ['account'] });
    expect(byAccount.rows.map((r) => [r.account, r.requests, r.successes])).toEqual(
      [
        [accounts[0]!.id, 12, 12],
        [accounts[1]!.id, 10, 6],
      ].sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
    const byHour = await h.admin.usage.report({ ...EVERYTHING, by: ['hour'] });
    expect(byHour.rows.reduce((n, r) => n + r.requests, 0)).toBe(22);
    for (const row of byHour.rows) expect(Number(row.hour) % 3_600_000).toBe(0);
  });

  it("a key's own limit turns requests away as rate_limited failures with no account", async () => {
    await h.importAccount('roll-3', { imageConcurrency: 8 });
    const key = await h.createKey({ name: 'roll-c', maxConcurrency: 1, routing: { mode: 'accounts', accounts: ['roll-3'] } });
    h.fake.setBehavior('roll-3', fakeBehaviors.success({ delayMs: 300 }));
    const statuses = await Promise.all(Array.from({ length: 5 }, (_, i) => sendImage(key.secret, i)));
    const ok = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s === 429)).toHaveLength(5 - ok);
    expect(ok).toBeLessThan(5);
    const row = await waitFor('the rollups to hold the key', async () => {
      const report = await h.admin.usage.report({ ...EVERYTHING, by: ['key'] });
      const mine = report.rows.find((r) => r.key === key.id);
      return mine?.requests === 5 ? mine : null;
    });
    expect(row).toMatchObject({ successes: ok, failuresRateLimited: 5 - ok, failuresClient: 0, failuresUpstream: 0 });
    const { usage } = await h.admin.keys.get(key.id);
    expect({ requests: usage.requests, successes: usage.successes }).toEqual({ requests: 5, successes: ok });
    // No account answered them: they are the only requests of this file without one.
    const byAccount = await h.admin.usage.report({ ...EVERYTHING, by: ['account'] });
    expect(byAccount.rows.find((r) => r.account === null)).toMatchObject({ requests: 5 - ok, failuresRateLimited: 5 - ok });
  });

  it('the report over all history reconciles with the key counters, by day and key, filtered, and as CSV', async () => {
    const summary = await h.admin.usage.summary();
    const report = await h.admin.usage.report({ ...EVERYTHING, by: ['day', 'key'] });
    for (const measure of ['requests', 'successes', 'images', 'inputTokens', 'outputTokens', 'totalTokens', 'usageMissing'] as const)
      expect(report.totals[measure], measure).toBe(summary.totals[measure]);
    for (const key of summary.keys) {
      const rows = report.rows.filter((r) => r.key === key.id);
      expect(rows.every((r) => r.keyName === key.name && typeof r.day === 'number' && r.day % 86_400_000 === 0)).toBe(true);
      expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(key.requests);
    }
    expect(report.totals.latencyP50Ms).toBeGreaterThanOrEqual(0);
    expect(report.totals.latencyP95Ms).toBeGreaterThanOrEqual(report.totals.latencyP50Ms!);

    const one = summary.keys.find((k) => k.name === 'roll-a')!;
    const filtered = await h.admin.usage.report({ ...EVERYTHING, by: ['account'], key: 'roll-a' });
    expect(filtered.key).toBe(one.id);
    expect(filtered.totals.requests).toBe(one.requests);
    expect(filtered.rows.map((r) => r.accountName)).toEqual(['roll-1']);

    const res = await fetch(`${h.adminUrl}/admin/api/usage?since=0&until=${EVERYTHING.untilMs}&by=key`, {
      headers: { authorization: `Bearer ${adminToken}`, accept: 'text/csv' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="usage-1970-01-01-\d{4}-\d{2}-\d{2}\.csv"$/);
    const records = parse(await res.text(), {
      columns: true,
      cast: (value, ctx) => (ctx.header || value === '' || ctx.column === 'key_id' || ctx.column === 'key_name' ? value : Number(value)),
    }) as Array<Record<string, string | number>>;
    expect(Object.keys(records[0]!)).toEqual(['key_id', 'key_name', ...USAGE_REPORT_MEASURE_COLUMNS.map(toSnakeName)]);
    expect(records.map((r) => [r.key_id, r.key_name, r.requests, r.images, r.total_tokens])).toEqual(
      [...summary.keys]
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .filter((k) => k.requests > 0)
        .map((k) => [k.id, k.name, k.requests, k.images, k.totalTokens]),
    );
  });

  it('the report refuses an unknown key with not_found and an unknown format with invalid_request', async () => {
    await expect(h.admin.usage.report({ ...EVERYTHING, by: ['key'], key: 'no-such-key' })).rejects.toMatchObject({ code: 'not_found', param: 'key' });
    const res = await fetch(`${h.adminUrl}/admin/api/usage?format=xml`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', param: 'format' } });
  });

  it('the admin read refuses a bad range or grouping with invalid_request', async () => {
    await expect(h.admin.usage.report({ sinceMs: 10, untilMs: 5, by: ['key'] })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(h.admin.usage.report({ sinceMs: 0, untilMs: 5, by: ['week' as 'key'] })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
