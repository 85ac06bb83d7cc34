import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminClient } from '../../src/control/admin-client.js';
import type { ControlApi } from '../../src/control/control-api.js';
import type { InstanceInfo } from '../../src/control/instance-file.js';
import { listUsageReportCsvColumns } from '../../src/control/usage-report.js';
import { expectOneLineError, runCli, spawnStart, type CliDaemon, type CliResult } from '../support/cli-process.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from '../support/fake-codex-upstream.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';

const SLOW_MS = 120_000;

/**
 * `codex-image-gateway usage` over real traffic: first through a running `start` (the data
 * directory is locked, so the CLI goes through its admin API), then, once it has stopped, on the
 * embedded database directly. Both must print what the admin API serves, byte for byte.
 */
describe('CLI usage report', () => {
  let dir = '';
  let fake: FakeCodexUpstream | null = null;
  let daemon: CliDaemon | null = null;
  let instance: InstanceInfo;
  let admin: ControlApi;
  let adminToken = '';
  const dataDir = () => join(dir, 'data');
  const cli = (args: string[]): Promise<CliResult> => runCli([...args, '--data-dir', dataDir()]);
  // Every request of the test lies in [0, UNTIL): a fixed range, so remote and local reports compare byte for byte.
  const UNTIL = String(Date.now() + 3_600_000);
  const RANGE = ['--since', '0', '--until', UNTIL];
  /** What the clients counted, per key name. */
  const sent = { alpha: { requests: 5, successes: 5, images: 6 }, beta: { requests: 4, successes: 2, images: 2 } };
  /** The outputs the running instance gave, compared with the local ones after it stops. */
  const remote: Record<string, string> = {};

  async function ok(args: string[]): Promise<string> {
    const result = await cli(args);
    expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
    expect(result.stderr).toBe('');
    return result.stdout;
  }
  async function fails(args: string[], message: string): Promise<void> {
    expectOneLineError(await cli(args), message);
  }
  /** GET /admin/api/usage with the same range, straight from the admin API. */
  async function fetchAdminReport(query: string, accept: string): Promise<string> {
    const res = await fetch(`${instance.adminUrl}/admin/api/usage?since=0&until=${UNTIL}&${query}`, {
      headers: { authorization: `Bearer ${adminToken}`, accept },
    });
    expect(res.status).toBe(200);
    return res.text();
  }
  async function sendImage(secret: string, n = 1): Promise<number> {
    const res = await fetch(`${instance.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'usage report', n }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-usage-'));
    fake = await startFakeCodexUpstream();
    const env = { CODEX_UPSTREAM_BASE_URL: fake.baseUrl, CODEX_OAUTH_TOKEN_URL: fake.oauthUrl, USAGE_FLUSH_MS: '50' };
    ({ daemon, instance } = await spawnStart(dataDir(), env));
    adminToken = (await readFile(join(dataDir(), 'admin-token'), 'utf8')).trim();
    admin = createAdminClient({ baseUrl: instance.adminUrl, token: adminToken });
    for (const name of ['acc-1', 'acc-2']) await admin.accounts.import({ auth: makeCodexAuthJson({ accountId: name }), name });
    const alpha = await admin.keys.create({ name: 'alpha', routing: { mode: 'accounts', accounts: ['acc-1'] } });
    const beta = await admin.keys.create({ name: 'beta', routing: { mode: 'accounts', accounts: ['acc-2'] } });
    fake.setBehavior('acc-1', fakeBehaviors.success({ usage: { input_tokens: 5, output_tokens: 20 } }));
    // Beta's first two requests get an upstream 400 (final: no failover), so the report has failures.
    fake.setBehavior('acc-2', [fakeBehaviors.detailError(400, 'bad prompt'), fakeBehaviors.detailError(400, 'bad prompt')]);
    const statuses = await Promise.all([
      ...[1, 1, 1, 1, 2].map((n) => sendImage(alpha.secret, n)),
      ...Array.from({ length: sent.beta.requests }, () => sendImage(beta.secret)),
    ]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(sent.alpha.successes + sent.beta.successes);
    await waitFor('the rollups to hold every request', async () => {
      const report = await admin.usage.report({ sinceMs: 0, untilMs: Number(UNTIL), by: ['key'] });
      return report.totals.requests === sent.alpha.requests + sent.beta.requests ? report : null;
    });
  }, SLOW_MS);

  afterAll(async () => {
    await daemon?.stop();
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  }, SLOW_MS);

  describe('through the running instance (admin API)', () => {
    it('--format csv is the admin API CSV byte for byte, and its rows equal the key counters and what the clients counted', { timeout: SLOW_MS }, async () => {
      const csv = await ok(['usage', ...RANGE, '--format', 'csv']);
      expect(csv).toBe(await fetchAdminReport('by=key', 'text/csv'));
      remote.csv = csv;
      const records = parse(csv, { columns: true }) as Array<Record<string, string>>;
      expect(Object.keys(records[0] ?? {})).toEqual(listUsageReportCsvColumns(['key']));
      expect(records.map((r) => r.key_name).sort()).toEqual(['alpha', 'beta']);
      for (const record of records) {
        const name = record.key_name as keyof typeof sent;
        const { usage } = await admin.keys.get(name);
        expect(
          [record.requests, record.successes, record.images, record.input_tokens, record.output_tokens, record.total_tokens, record.estimated_cost_micros].map(
            Number,
          ),
          name,
        ).toEqual([usage.requests, usage.successes, usage.images, usage.inputTokens, usage.outputTokens, usage.totalTokens, usage.estimatedCostMicros]);
        expect([Number(record.requests), Number(record.successes), Number(record.images)], name).toEqual([
          sent[name].requests,
          sent[name].successes,
          sent[name].images,
        ]);
      }
      expect(records.find((r) => r.key_name === 'beta')?.failures_client).toBe('2');
    });

    it('--format json (and --json) is the admin API JSON', { timeout: SLOW_MS }, async () => {
      const json = await ok(['usage', ...RANGE, '--by', 'key,account', '--format', 'json']);
      expect(JSON.parse(json)).toEqual(JSON.parse(await fetchAdminReport('by=key,account', 'application/json')));
      expect(JSON.parse(json)).toMatchObject({ since: 0, until: Number(UNTIL), by: ['key', 'account'], totals: { requests: 9, successes: 7, images: 8 } });
      expect(await ok(['usage', ...RANGE, '--by', 'key,account', '--json'])).toBe(json);
      remote.json = json;
    });

    it('the table: key names, the measures, a TOTAL row, within 80 columns', { timeout: SLOW_MS }, async () => {
      const table = await ok(['usage', ...RANGE]);
      const lines = table.trimEnd().split('\n');
      expect(lines[0]).toBe(`usage from 1970-01-01T00:00:00Z to ${new Date(Number(UNTIL)).toISOString().replace(/\.\d{3}Z$/, 'Z')} by key`);
      expect(lines[1]).toMatch(/^KEY +REQUESTS +OK +FAILED +IMAGES +TOKENS +EST_COST +P50 +P95$/);
      // Rows come in the report's order (by key id, random here): find each key's by its name.
      const rows = lines.slice(2, 4).sort();
      expect(rows[0]).toMatch(/^alpha +5 +5 +0 +6 +150 +\$\d+\.\d+ +\d+\.\ds +\d+\.\ds$/);
      expect(rows[1]).toMatch(/^beta +4 +2 +2 +2 +\d+ +\$\d+\.\d+ /);
      expect(lines[4]).toMatch(/^TOTAL +9 +7 +2 +8 +\d+ +\$\d+\.\d+ /);
      for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
      remote.table = table;
    });

    it('filters: --key by account, --account by key, and a relative --since that covers the traffic', { timeout: SLOW_MS }, async () => {
      const alphaByAccount = parse(await ok(['usage', ...RANGE, '--key', 'alpha', '--by', 'account', '--format', 'csv']), { columns: true });
      expect(alphaByAccount).toEqual([expect.objectContaining({ account_name: 'acc-1', requests: '5' })]);
      const acc2ByKey = parse(await ok(['usage', ...RANGE, '--account', 'acc-2', '--by', 'key,day', '--format', 'csv']), { columns: true });
      expect(acc2ByKey).toEqual([expect.objectContaining({ key_name: 'beta', day: new Date().toISOString().slice(0, 10), requests: '4' })]);
      const lastDay = JSON.parse(await ok(['usage', '--since', '24h', '--json'])) as { since: number; until: number; totals: { requests: number } };
      expect(lastDay.totals.requests).toBe(9);
      expect(lastDay.until - lastDay.since).toBe(86_400_000);
    });

    it('bad input: one error line, exit 1', { timeout: SLOW_MS }, async () => {
      await fails(['usage', '--by', 'week'], 'by must be one or two of key, account, model, endpoint, day, hour, comma-separated');
      await fails(['usage', '--since', '1d', '--until', '2d'], 'since must be before until');
      await fails(['usage', '--since', 'yesterday'], 'since must be ms since epoch, an ISO 8601 time or a duration before now (24h, 7d, 30d)');
      await fails(['usage', '--key', 'nobody'], 'key not found');
      await fails(['usage', '--account', 'nowhere'], 'account not found');
      await fails(['usage', '--format', 'xml'], "option '--format <format>' argument 'xml' is invalid. Allowed choices are table, json, csv.");
    });
  });

  describe('on the embedded database, once the instance has stopped', () => {
    beforeAll(async () => {
      expect(await daemon?.stop()).toBe(0);
    }, SLOW_MS);

    it('prints the same CSV, JSON and table as the running instance did', { timeout: SLOW_MS * 2 }, async () => {
      expect(remote.csv).toBeDefined();
      expect(await ok(['usage', ...RANGE, '--format', 'csv'])).toBe(remote.csv);
      expect(await ok(['usage', ...RANGE, '--by', 'key,account', '--format', 'json'])).toBe(remote.json);
      expect(await ok(['usage', ...RANGE])).toBe(remote.table);
    });

    it('refuses an unknown key in the same line', { timeout: SLOW_MS }, async () => {
      await fails(['usage', '--key', 'nobody'], 'key not found');
    });
  });
});
