/**
 * The console of a `control` process that reads no data plane (none in the instance registry, no
 * GATEWAY_STATUS_URLS): Activity and Overview say why they are empty and name the setting, instead
 * of showing a blank page; Instances lists the control process itself, live.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { buildWebConsole } from '../../web/build-console.js';
import { spawnCli, type CliDaemon } from '../support/cli-process.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js';

let dir: string;
let control: CliDaemon;
let adminUrl: string;
let browser: Browser;

beforeAll(async () => {
  await buildWebConsole();
  dir = await mkdtemp(join(tmpdir(), 'cig-console-control-'));
  control = spawnCli(['control', '--migrate', '--admin-listen', '127.0.0.1:0', '--data-dir', dir], {});
  adminUrl = (await control.waitFor(/"adminUrl":"(http:\/\/[^"]+)"/, 60_000))[1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await control?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a control plane without data planes', () => {
  it('Activity and Overview name GATEWAY_STATUS_URLS instead of staying blank; Instances lists this control, live', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${adminUrl}/admin/`);
    await page.getByLabel('Admin token').fill((await readFile(join(dir, 'admin-token'), 'utf8')).trim());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'GATEWAY_STATUS_URLS' }).waitFor();
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Activity', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Activity' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'No data plane to read from' }).waitFor();
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Instances', exact: true }).click();
    await page.getByRole('table', { name: 'Instances' }).getByRole('row').filter({ hasText: 'control' }).filter({ hasText: 'live' }).waitFor();
    await page.close();
  });
});
