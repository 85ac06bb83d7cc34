/**
 * The console's usage history in Chromium, after real traffic through the gateway: the Usage page's
 * figures equal the report API's, range and grouping switch, the CSV downloads hold the same rows,
 * keys and accounts show their 30-day sparklines, and the Overview's history survives a restart.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebConsole } from '../../web/build-console.js';
import type { UsageReport, UsageRow } from '../../web/src/types.js';
import { formatUsdMicros } from '../../src/pricing/format-usd.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { screenshotBoth } from '../support/screenshots.js';
import { waitFor } from '../support/wait-for.js';

const HOUR_MS = 3_600_000;

/** What each key's client sent and got back whole (one image per success). */
const SENT = { alpha: { requests: 4, successes: 4 }, beta: { requests: 2, successes: 2 }, gamma: { requests: 2, successes: 1 } } as const;
const TOTAL_REQUESTS = 8;
const TOTAL_IMAGES = 7;

let h: GatewayHarness;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Console errors of the page other than failed loads (a CSP violation would land here). */
const pageErrors: string[] = [];
/** Every request the console made to anything but the control plane (must stay empty). */
const foreignRequests: string[] = [];

/** Lets the page reach only the current control plane (its port changes with a restart). */
async function routeOnlyControlPlane(): Promise<void> {
  await context.unrouteAll();
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${new URL(h.adminUrl).origin}/`)) return route.continue();
    foreignRequests.push(url);
    return route.abort();
  });
}

const count = (n: number): string => n.toLocaleString('en-US');

/** Sends one generation with `secret` and says whether it came back with an image. */
async function generate(secret: string): Promise<boolean> {
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a usage chart' }),
  });
  return res.status === 200 && ((await res.json()) as { data?: unknown[] }).data?.length === 1;
}

async function signIn(): Promise<void> {
  await page.goto(`${h.adminUrl}/admin/`);
  await page.getByLabel('Admin token').fill((await readFile(join(h.dataDir, 'admin-token'), 'utf8')).trim());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

/** True for the page's own report request grouped exactly `by`. */
const isReport = (by: string) => (r: Response) => r.url().includes('/admin/api/usage?') && new URL(r.url()).searchParams.get('by') === by;

/** The JSON of the next report answer grouped `by` that `act` makes the page ask for. */
async function readReportAfter(by: string, act: () => Promise<unknown>): Promise<UsageReport> {
  const answer = page.waitForResponse(isReport(by));
  await act();
  return (await (await answer).json()) as UsageReport;
}

/** The text of a stat (`.stat` whose label is `label`) in the region named `region`. */
const readStat = (region: string, label: string) =>
  page
    .getByRole('region', { name: region })
    .locator('.stat')
    .filter({ has: page.getByText(label, { exact: true }) })
    .locator('.stat-value')
    .textContent();

/** The cells the Top keys table shows for a report row, as the page formats them. */
function expectedCells(row: UsageRow): string[] {
  const ms = (v: number | null) => (v === null ? '—' : count(Math.round(v)));
  return [
    count(row.requests),
    count(row.successes),
    count(row.images),
    count(row.total_tokens),
    ms(row.latency_p50_ms),
    ms(row.latency_p95_ms),
    formatUsdMicros(row.estimated_cost_micros),
  ];
}

/** Clicks a download link and parses the CSV it saves (header line → objects). */
async function downloadCsv(linkName: RegExp): Promise<Array<Record<string, string>>> {
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: linkName }).click();
  const file = await (await download).path();
  return parse(await readFile(file, 'utf8'), { columns: true }) as Array<Record<string, string>>;
}

beforeAll(async () => {
  await buildWebConsole();
  h = await startGatewayHarness();
  await h.importAccount('acct-usage-1', { name: 'usage-one' });
  await h.importAccount('acct-usage-2', { name: 'usage-two' });
  const secrets = Object.fromEntries(await Promise.all(Object.keys(SENT).map(async (name) => [name, (await h.createKey({ name })).secret] as const)));
  // gamma's first request meets an upstream 400 (a client failure, final: no failover); the rest succeed.
  h.fake.setBehavior('*', [fakeBehaviors.badRequest()]);
  const got = { alpha: 0, beta: 0, gamma: 0 };
  for (const name of ['gamma', 'alpha', 'beta', 'alpha', 'gamma', 'alpha', 'beta', 'alpha'] as const) if (await generate(secrets[name]!)) got[name]++;
  expect(got).toEqual({ alpha: SENT.alpha.successes, beta: SENT.beta.successes, gamma: SENT.gamma.successes });
  await waitFor('the rollups to hold every request', async () => {
    const report = await h.admin.usage.report({ sinceMs: Date.now() - 2 * HOUR_MS, untilMs: Date.now() + HOUR_MS, by: ['key'] });
    return report.totals.requests === TOTAL_REQUESTS ? report : null;
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  // Times show in the browser's locale and zone; fixed so the test can name the text it expects.
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC', acceptDownloads: true });
  await routeOnlyControlPlane();
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(msg.text());
  });
  await signIn();
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await h?.stop();
});

describe('console usage history in Chromium', () => {
  it('the Usage page shows the top keys with the figures of the report API and of the clients', async () => {
    const keys = await readReportAfter('key', () => page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Usage', exact: true }).click());
    await page.getByRole('heading', { level: 1, name: 'Usage' }).waitFor();
    const byName = [...keys.rows].sort((a, b) => a.key_name!.localeCompare(b.key_name!));
    expect(byName.map((r) => [r.key_name, r.requests, r.successes, r.images])).toEqual(
      Object.entries(SENT).map(([name, s]) => [name, s.requests, s.successes, s.successes]),
    );
    const table = page.getByRole('table', { name: 'Top keys' });
    await table.getByRole('row').nth(3).waitFor();
    expect(await table.getByRole('columnheader', { name: 'est. cost' }).count()).toBe(1);
    expect(keys.totals.estimated_cost_micros).toBeGreaterThan(0);
    expect(await readStat('Range totals', 'est. cost')).toBe(formatUsdMicros(keys.totals.estimated_cost_micros));
    expect(await table.locator('tbody th').allTextContents()).toEqual(['alpha', 'beta', 'gamma']); // most requests first, then most images
    for (const row of keys.rows) {
      const line = table.locator('tbody tr').filter({ has: page.getByRole('rowheader', { name: row.key_name!, exact: true }) });
      expect(await line.locator('td').allTextContents()).toEqual(expectedCells(row));
    }
    expect(await readStat('Range totals', 'requests')).toBe(count(TOTAL_REQUESTS));
    expect(await readStat('Range totals', 'images')).toBe(count(TOTAL_IMAGES));
    expect(await readStat('Range totals', 'success rate')).toBe(`${Math.round((TOTAL_IMAGES / TOTAL_REQUESTS) * 100)} %`);
    expect(await readStat('Range totals', 'failures')).toBe('1');
    await page.getByRole('img', { name: 'Images per hour by key. alpha: 4; beta: 2; gamma: 1' }).waitFor();
    await page.getByRole('img', { name: 'Requests per hour by key. alpha: 4; beta: 2; gamma: 2' }).waitFor();
    await page.getByRole('img', { name: /^Success rate per hour \(%\)/ }).waitFor();
    await page.getByRole('img', { name: /^Latency per hour \(ms\)/ }).waitFor();
    await screenshotBoth(page, 'usage');
  });

  it('switches the charts to accounts and the range to 7 days and to custom dates', async () => {
    const split = await readReportAfter('hour,account', () => page.getByRole('radio', { name: 'By account' }).check());
    // Stacked in the order of most requests, then most images, in both charts.
    const accounts = [...split.rows].sort((a, b) => b.requests - a.requests || b.images - a.images || a.account_name!.localeCompare(b.account_name!));
    expect(accounts.reduce((n, r) => n + r.images, 0)).toBe(TOTAL_IMAGES);
    await page.getByRole('img', { name: `Images per hour by account. ${accounts.map((r) => `${r.account_name}: ${r.images}`).join('; ')}` }).waitFor();
    await page.getByRole('img', { name: `Requests per hour by account. ${accounts.map((r) => `${r.account_name}: ${r.requests}`).join('; ')}` }).waitFor();

    await readReportAfter('day,account', () => page.locator('select[name=range]').selectOption({ label: 'Last 7 d' }));
    await page.getByRole('img', { name: /^Images per day by account\. / }).waitFor();
    expect(await readStat('Range totals', 'images')).toBe(count(TOTAL_IMAGES));
    await screenshotBoth(page, 'usage-by-account');

    await page.locator('select[name=range]').selectOption({ label: 'Custom…' });
    const today = new Date().toISOString().slice(0, 10);
    const custom = page.getByRole('form', { name: 'Custom range' });
    await custom.locator('input[name=since]').fill(today);
    await custom.locator('input[name=until]').fill(today);
    const keys = await readReportAfter('key', () => custom.getByRole('button', { name: 'Apply' }).click());
    expect(new Date(keys.since).toISOString()).toBe(`${today}T00:00:00.000Z`);
    expect(keys.until - keys.since).toBe(24 * HOUR_MS);
    await page.getByRole('img', { name: /^Images per hour by account\. / }).waitFor();
    expect(await readStat('Range totals', 'requests')).toBe(count(TOTAL_REQUESTS));
  });

  it('downloads CSVs with the rows the page shows', async () => {
    const keys = await downloadCsv(/^Download CSV \(keys\)$/);
    const byName = [...keys].sort((a, b) => a.key_name!.localeCompare(b.key_name!));
    expect(byName.map((r) => [r.key_name, r.requests, r.successes, r.images, r.failures_client])).toEqual([
      ['alpha', '4', '4', '4', '0'],
      ['beta', '2', '2', '2', '0'],
      ['gamma', '2', '1', '1', '1'],
    ]);
    const split = await downloadCsv(/^Download CSV \(hour × account\)$/);
    expect(Object.keys(split[0]!).slice(0, 3)).toEqual(['hour', 'account_id', 'account_name']);
    expect(split.reduce((n, r) => n + Number(r.images), 0)).toBe(TOTAL_IMAGES);
    expect(split.reduce((n, r) => n + Number(r.requests), 0)).toBe(TOTAL_REQUESTS);
  });

  it("each key's and account's row shows its 30-day images sparkline", async () => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Keys', exact: true }).click();
    for (const [name, s] of Object.entries(SENT)) {
      const card = page.getByRole('article', { name: `Key ${name}` });
      await card.getByRole('img', { name: `Images per day of ${name}, last 30 days: ${s.successes} in all` }).waitFor();
      expect(await card.locator('.sparkline polyline').getAttribute('points')).toMatch(/^(?:[\d.]+,[\d.]+ ){29}[\d.]+,[\d.]+$/); // 30 days
    }
    await screenshotBoth(page, 'keys-sparklines');
    const byAccount = await h.admin.usage.report({ sinceMs: Date.now() - 2 * HOUR_MS, untilMs: Date.now() + HOUR_MS, by: ['account'] });
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Accounts', exact: true }).click();
    for (const row of byAccount.rows) {
      const card = page.getByRole('article', { name: `Account ${row.accountName}` });
      await card.getByRole('img', { name: `Images per day of ${row.accountName}, last 30 days: ${row.images} in all` }).waitFor();
    }
  });

  it('the Overview reads its history from the usage report, and still shows it after the gateway restarts', async () => {
    const overviewHistory = async () => {
      const report = await readReportAfter('hour', () =>
        page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Overview', exact: true }).click(),
      );
      expect(report.totals.requests).toBe(TOTAL_REQUESTS);
      await page.getByRole('img', { name: /^Requests and images per hour\./ }).waitFor();
      expect(await readStat('History totals', 'requests')).toBe(count(TOTAL_REQUESTS));
      expect(await readStat('History totals', 'images')).toBe(count(TOTAL_IMAGES));
    };
    await overviewHistory();
    await page.getByTestId('sources-note').filter({ hasText: 'Read from 1 of 1 data plane' }).waitFor();
    await page.getByRole('img', { name: /^Per-account load \(upstream attempts\)\. usage-/ }).waitFor();

    await h.restart();
    await routeOnlyControlPlane();
    await signIn();
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Keys', exact: true }).click();
    await overviewHistory();
    // The live part reads the restarted gateway's memory, empty now: the history above did not come from there.
    await page.getByRole('figure', { name: 'Per-account load (upstream attempts)' }).getByText('No upstream attempts in this window.').waitFor();
    await screenshotBoth(page, 'overview-history');
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });
});
