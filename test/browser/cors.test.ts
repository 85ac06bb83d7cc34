import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebConsole } from '../../web/build-console.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js';

/** What the page's own fetch saw: an answer it could read, or the error the browser raised. */
type PageFetch =
  | { ok: true; status: number; requestId: string | null; body: { data?: unknown[]; error?: { code: string } } }
  | { ok: false; name: string; message: string };

let h: GatewayHarness;
let browser: Browser;
let pageServer: Server;
/** The second loopback origin the page is served from (the gateway is another port). */
let pageOrigin: string;
let secret: string;
/** Console errors of each app page: Chromium names the CORS block there. */
const consoleErrors = new WeakMap<Page, string[]>();

/** Calls the gateway's public API from inside the page, as a browser app would (the SDK's headers included). */
function generateFromPage(page: Page, key: string): Promise<PageFetch> {
  return page.evaluate(
    async ({ url, key }) => {
      try {
        const res = await fetch(`${url}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-stainless-os': 'Linux', 'x-stainless-retry-count': '0' },
          body: JSON.stringify({ prompt: 'a lighthouse at dusk', model: 'gpt-image-2' }),
        });
        return { ok: true, status: res.status, requestId: res.headers.get('x-request-id'), body: await res.json() };
      } catch (err) {
        return { ok: false, name: (err as Error).name, message: (err as Error).message };
      }
    },
    { url: h.gatewayUrl, key },
  ) as Promise<PageFetch>;
}

/** Polls the gateway (from Node, no browser cache) until a preflight from the page's origin is answered as `allowed` says. */
async function waitForPreflight(allowed: boolean): Promise<void> {
  await waitFor(`a preflight from ${pageOrigin} to be ${allowed ? 'allowed' : 'refused'}`, async () => {
    const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'OPTIONS',
      headers: { origin: pageOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    return (res.headers.get('access-control-allow-origin') === pageOrigin) === allowed;
  });
}

/** Asserts that the page's fetch failed because of CORS (a TypeError, and Chromium's CORS message), not for another reason. */
async function expectCorsBlocked(page: Page): Promise<void> {
  expect(await generateFromPage(page, secret)).toMatchObject({ ok: false, name: 'TypeError' });
  await waitFor('the CORS message on the console', () => consoleErrors.get(page)!.some((e) => e.includes('blocked by CORS policy')));
}

/** A fresh page on the second origin, in its own browser context (so no preflight answer is cached from before). */
async function openAppPage(): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  consoleErrors.set(page, errors);
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  await page.goto(`${pageOrigin}/`);
  await page.getByRole('heading', { name: 'Browser app' }).waitFor();
  return page;
}

beforeAll(async () => {
  await buildWebConsole();
  h = await startGatewayHarness();
  await h.importAccount('cors-acct');
  secret = (await h.createKey({ name: 'browser-app' })).secret;
  pageServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title><h1>Browser app</h1>');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as { port: number }).port}`;
  expect(pageOrigin).not.toBe(new URL(h.gatewayUrl).origin);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve(undefined)));
  await h?.stop();
});

describe('a browser app on another origin calling the public API', () => {
  it('is blocked while CORS is off (the default), and the POST never reaches the upstream', async () => {
    const page = await openAppPage();
    await expectCorsBlocked(page);
    expect(h.fake.requests).toHaveLength(0);
    await page.context().close();
  });

  it('is blocked when the setting lists only other origins', async () => {
    await h.admin.settings.update({ corsAllowedOrigins: ['https://app.example.com'] });
    await waitFor('the snapshot to hold the new origin list', async () => {
      const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      });
      return res.headers.get('access-control-allow-origin') === 'https://app.example.com';
    });
    await waitForPreflight(false);
    const page = await openAppPage();
    await expectCorsBlocked(page);
    expect(h.fake.requests).toHaveLength(0);
    await page.context().close();
  });

  it('generates once its origin is allowed, and reads x-request-id and error bodies', async () => {
    await h.admin.settings.update({ corsAllowedOrigins: ['https://app.example.com', `${pageOrigin.toUpperCase()}/`] });
    await waitForPreflight(true);
    const page = await openAppPage();
    const ok = await generateFromPage(page, secret);
    expect(ok).toMatchObject({ ok: true, status: 200 });
    if (!ok.ok) throw new Error('unreachable');
    expect(ok.requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(ok.body.data).toHaveLength(1);
    expect(h.fake.requests).toHaveLength(1);
    await h.waitForLogEvents(ok.requestId!);

    const denied = await generateFromPage(page, 'cig_not-a-real-key');
    expect(denied).toMatchObject({ ok: true, status: 401, body: { error: { code: 'invalid_api_key' } } });
    if (denied.ok) expect(denied.requestId).toMatch(/^req_/);
    await page.context().close();
  });

  it("is blocked again once the list no longer names it, and works for any origin with '*'", async () => {
    await h.admin.settings.update({ corsAllowedOrigins: ['https://app.example.com'] });
    await waitForPreflight(false);
    const blocked = await openAppPage();
    await expectCorsBlocked(blocked);
    await blocked.context().close();

    await h.admin.settings.update({ corsAllowedOrigins: ['*'] });
    await waitFor('the snapshot to allow any origin', async () => {
      const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
        method: 'OPTIONS',
        headers: { origin: pageOrigin, 'access-control-request-method': 'POST' },
      });
      return res.headers.get('access-control-allow-origin') === '*';
    });
    const open = await openAppPage();
    expect(await generateFromPage(open, secret)).toMatchObject({ ok: true, status: 200 });
    await open.context().close();
  });

  it('can be set from the console Settings page (one origin per line, normalised by the API)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${h.adminUrl}/admin/`);
    await page.getByLabel('Admin token').fill((await readFile(join(h.dataDir, 'admin-token'), 'utf8')).trim());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Settings', exact: true }).click();
    const origins = page.locator('textarea[name=cors_allowed_origins]');
    await page.waitForFunction(() => (document.querySelector('textarea[name=cors_allowed_origins]') as HTMLTextAreaElement | null)?.value === '*');
    await origins.fill('https://app.example.com/login');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('alert').filter({ hasText: 'cors_allowed_origins[0] must be an origin' }).waitFor();
    await origins.fill(`HTTPS://App.Example.com/\n${pageOrigin}`);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved.').waitFor();
    expect((await h.admin.settings.get()).corsAllowedOrigins).toEqual(['https://app.example.com', pageOrigin]);
    await page.waitForFunction(
      (want) => (document.querySelector('textarea[name=cors_allowed_origins]') as HTMLTextAreaElement | null)?.value === want,
      `https://app.example.com\n${pageOrigin}`,
    );
    await context.close();
  });
});
