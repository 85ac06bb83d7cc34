import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_ID_PREFIX } from '../../src/http/job-routes.js';
import { openCapability } from '../../src/store/capability-seal.js';
import { buildWebConsole } from '../../web/build-console.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { expectRefusedWithin } from '../support/expect-refused.js';
import { waitFor } from '../support/wait-for.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js';

const SCREENSHOT_DIR = join(process.cwd(), 'test-output', 'screenshots');
const WIDTHS = [375, 1280] as const;

let h: GatewayHarness;
let context: BrowserContext;
let page: Page;
let profileDir: string;
/** Every request the console made to anything but the control plane (must stay empty). */
const foreignRequests: string[] = [];
const state = { secret: '', keyId: '', requestId: '', sessionCookie: '' };
/** Console errors of the page other than failed loads (a CSP violation would land here). */
const pageErrors: string[] = [];

async function screenshotBoth(name: string): Promise<void> {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width < 600 ? 800 : 900 });
    await page.waitForTimeout(150); // let the layout settle after the resize
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function openPage(title: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: title, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
}

beforeAll(async () => {
  await buildWebConsole();
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  h = await startGatewayHarness({ env: { JOB_HEARTBEAT_MS: '300' } });
  profileDir = await mkdtemp(join(tmpdir(), 'cig-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
    // Times show in the browser's locale and zone; fixed here so a test can name the text it expects.
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const origin = new URL(h.adminUrl).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`)) return route.continue();
    foreignRequests.push(url);
    return route.abort();
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(msg.text());
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await h?.stop();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

describe('web console in Chromium', () => {
  it('signs in with the admin token (the token never appears in the URL)', async () => {
    await page.goto(`${h.adminUrl}/admin/`);
    await page.getByRole('heading', { name: 'Codex Image Gateway' }).waitFor();
    await screenshotBoth('sign-in');
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'invalid admin token' }).waitFor();
    const token = (await import('node:fs/promises')).readFile(join(h.dataDir, 'admin-token'), 'utf8');
    await page.getByLabel('Admin token').fill((await token).trim());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(page.url()).not.toContain((await token).trim());
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'cig_admin_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin', secure: false });
    state.sessionCookie = session!.value;
    expect(await page.evaluate(() => JSON.stringify(localStorage) + document.cookie)).not.toContain((await token).trim());
  });

  it('creates a key and shows its secret exactly once', async () => {
    await openPage('Keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('form', { name: 'Create key' });
    await form.locator('input[name=max_concurrency]').fill('2000');
    await form.locator('input[name=name]').fill('browser-key');
    await form.getByRole('button', { name: 'Create' }).click();
    await form.getByRole('alert').filter({ hasText: 'max_concurrency must be an integer between 1 and 1024, or empty for unlimited' }).waitFor();
    await form.locator('input[name=max_concurrency]').fill('');
    await form.getByRole('button', { name: 'Create' }).click();
    const secretBox = page.getByTestId('new-secret');
    state.secret = (await secretBox.textContent())!.trim();
    expect(state.secret).toMatch(/^cig_/);
    await screenshotBoth('keys-secret');
    await page.reload();
    await page.getByRole('article', { name: 'Key browser-key' }).waitFor();
    expect(await page.getByTestId('new-secret').count()).toBe(0);
    expect(await page.content()).not.toContain(state.secret);
    state.keyId = (await h.admin.keys.get('browser-key')).id;
  });

  it('imports an account by pasting its auth.json and changes its concurrency', async () => {
    await openPage('Accounts');
    const auth = makeCodexAuthJson({ accountId: 'acct-browser' });
    const form = page.getByRole('form', { name: 'Import account' });
    await form.locator('textarea[name=auth]').fill(JSON.stringify(auth));
    await form.locator('input[name=name]').fill('browser-acct');
    await form.getByRole('button', { name: 'Import account' }).click();
    await form.getByRole('status').filter({ hasText: 'Imported account browser-acct' }).waitFor();
    const card = page.getByRole('article', { name: 'Account browser-acct' });
    await card.waitFor();
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = card.getByRole('form', { name: 'Edit account browser-acct' });
    await edit.locator('input[name=image_concurrency]').fill('7');
    await edit.getByRole('button', { name: 'Save account' }).click();
    await card.getByTestId('account-concurrency').filter({ hasText: /^7$/ }).waitFor();
    expect((await h.admin.accounts.get('browser-acct')).imageConcurrency).toBe(7);
    // Re-import the same identity with the form's fields left blank: updated, concurrency kept.
    const again = makeCodexAuthJson({ accountId: 'acct-browser' });
    await form.locator('textarea[name=auth]').fill(JSON.stringify(again));
    await form.getByRole('button', { name: 'Import account' }).click();
    await form
      .getByRole('status')
      .filter({ hasText: /^Updated account browser-acct \(changed: tokens(, expiry)?\)$/ })
      .waitFor();
    expect((await h.admin.accounts.get('browser-acct')).imageConcurrency).toBe(7);
    await card.getByTestId('account-concurrency').filter({ hasText: /^7$/ }).waitFor();
    const html = await page.content();
    for (const secret of [auth, again].flatMap((a) => [a.tokens.access_token, a.tokens.refresh_token, a.tokens.id_token])) expect(html).not.toContain(secret);
    await screenshotBoth('accounts');
  });

  it('the new secret works with the openai SDK', async () => {
    const client = h.sdk(state.secret);
    const { data, response } = await client.images.generate({ model: 'gpt-image-2', prompt: 'a lighthouse at dusk' }).withResponse();
    expect(data.data).toHaveLength(1);
    state.requestId = response.headers.get('x-request-id')!;
    expect(state.requestId).toMatch(/^req_/);
  });

  it('rotates the secret with a grace period (both secrets work, the new one shown once) and sets an expiry', async () => {
    await openPage('Keys');
    const card = page.getByRole('article', { name: 'Key browser-key' });
    await card.getByRole('button', { name: 'Rotate secret' }).click();
    const rotate = card.getByRole('form', { name: 'Rotate key browser-key' });
    await rotate.locator('select[name=grace_ms]').selectOption({ label: '1 hour' });
    await rotate.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('Key “browser-key” rotated.').waitFor();
    const rotated = (await page.getByTestId('new-secret').textContent())!.trim();
    expect(rotated).toMatch(/^cig_/);
    expect(rotated).not.toBe(state.secret);
    await card.getByText('Old secret until').waitFor();
    const view = await h.admin.keys.get('browser-key');
    expect(view.previousSecretExpiresAt! - Date.now()).toBeGreaterThan(3_500_000);
    for (const secret of [state.secret, rotated]) expect((await h.sdk(secret).images.generate({ prompt: 'a rotated key' })).data).toHaveLength(1);
    state.secret = rotated;
    await page.getByRole('button', { name: 'Done' }).click();

    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = card.getByRole('form', { name: 'Edit key browser-key' });
    // The browser's zone is UTC (see launchPersistentContext), so the local time typed is UTC.
    await edit.locator('input[name=expires_at]').fill('2099-06-30T12:00');
    await edit.getByRole('button', { name: 'Save key' }).click();
    await edit.waitFor({ state: 'detached' });
    await card.getByText(new Date(Date.UTC(2099, 5, 30, 12)).toLocaleString('en-US', { timeZone: 'UTC' })).waitFor();
    expect((await h.admin.keys.get('browser-key')).expiresAt).toBe(Date.UTC(2099, 5, 30, 12));
  });

  it('gives the key a day budget, shows its use filling up, and resets it (audited in the app log); the reset key works again', async () => {
    await openPage('Keys');
    const card = page.getByRole('article', { name: 'Key browser-key' });
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = card.getByRole('form', { name: 'Edit key browser-key' });
    await edit.locator('select[name=quota_period]').selectOption('day');
    await edit.locator('input[name=quota_images]').fill('3');
    await edit.locator('input[name=quota_cost_usd]').fill('2.5');
    await edit.getByRole('button', { name: 'Save key' }).click();
    await edit.waitFor({ state: 'detached' });
    expect(await h.admin.keys.get('browser-key')).toMatchObject({ quotaPeriod: 'day', quotaImages: 3, quotaCostUsd: 2.5 });
    // Three images so far today (one before the rotation, one per secret after it): the budget is used up.
    await waitFor('the day usage to reach the database', async () => (await h.admin.keys.get('browser-key')).periodUsage.images === 3 || null);
    await expect(h.sdk(state.secret).images.generate({ prompt: 'over budget' })).rejects.toMatchObject({ status: 429, code: 'quota_exceeded' });
    await page.reload();
    await card.getByText('3 / 3').waitFor();
    expect(await card.getByRole('meter', { name: 'images used' }).getAttribute('value')).toBe('3');
    await screenshotBoth('keys-budget');

    await card.getByRole('button', { name: 'Reset usage' }).click();
    await card.getByRole('button', { name: 'Yes, reset usage' }).click();
    await card.getByText('0 / 3').waitFor();
    await card.getByText(/usage reset/).waitFor();
    const view = await h.admin.keys.get('browser-key');
    expect(view.periodUsage.images).toBe(0);
    expect(view.usageResetAt).toBeGreaterThan(0);
    await waitFor('the reset in the app log', async () => (await readFile(h.appLogPath, 'utf8')).includes('"msg":"key usage reset"') || null);
    const line = (await readFile(h.appLogPath, 'utf8')).split('\n').find((l) => l.includes('"msg":"key usage reset"'))!;
    expect(JSON.parse(line)).toMatchObject({ keyId: state.keyId, keyName: 'browser-key', quotaPeriod: 'day', images: 3 });
    await waitFor('the gateway to see the reset', async () => {
      try {
        return (await h.sdk(state.secret).images.generate({ prompt: 'after the reset' })).data?.length === 1 || null;
      } catch {
        return null;
      }
    });
    // Lift the budget for the tests that follow.
    await h.admin.keys.update('browser-key', { quotaPeriod: 'none', quotaImages: null, quotaCostUsd: null });
  });

  it('switching image access off in the console makes the next SDK call fail with 403 within a second', async () => {
    await openPage('Keys');
    const patched = page.waitForResponse((r) => r.url().includes('/admin/api/keys/') && r.request().method() === 'PATCH');
    await page.getByRole('switch', { name: 'Image access for browser-key' }).click();
    expect((await patched).status()).toBe(200);
    const changedAt = Date.now();
    const client = h.sdk(state.secret);
    await expectRefusedWithin(client, changedAt);
    await page.getByRole('article', { name: 'Key browser-key' }).getByText('off', { exact: true }).waitFor();
    await screenshotBoth('keys');
  });

  it('creates a group and shows the settings', async () => {
    await openPage('Groups');
    const form = page.getByRole('form', { name: 'Create group' });
    await form.locator('input[name=name]').fill('pool');
    await form.locator('input[name=accounts]').fill('no-such-account');
    await form.getByRole('button', { name: 'Create group' }).click();
    await form.getByRole('alert').waitFor(); // the API's own message about the unknown account
    await form.locator('input[name=accounts]').fill('browser-acct');
    await form.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('article', { name: 'Group pool' }).waitFor();
    await screenshotBoth('groups');
    await openPage('Settings');
    await page.locator('input[name=log_max_files]').waitFor();
    await page.waitForFunction(() => (document.querySelector('input[name=codex_client_version]') as HTMLInputElement | null)?.value !== '');
    await screenshotBoth('settings');
    // The price table editor: a bad table is named by its path before anything is sent; a good one saves.
    const prices = page.getByRole('form', { name: 'Price table' });
    const editor = prices.locator('textarea[name=price_table]');
    const save = prices.getByRole('button', { name: 'Save price table' });
    await editor.fill('[{"model": "gpt-image-2", "tokens": {"text": 5, "output": 30}}]');
    await prices.getByRole('alert').getByText('price_table[0].tokens.image is missing', { exact: false }).waitFor();
    expect(await save.isDisabled()).toBe(true);
    await editor.fill('[{"model": "gpt-image-2", "tokens": {"text": 5, "image": 8, "output": 60}}]');
    await save.click();
    await waitFor('the edited price table saved', async () => (await h.admin.settings.get()).priceTable[0]?.tokens?.output === 60);
    await prices.getByRole('button', { name: 'Restore the default prices' }).click();
    // Save only once the editor shows the defaults (the restore re-renders it): a click before would send the old text.
    await page.waitForFunction(() => (document.querySelector('textarea[name=price_table]') as HTMLTextAreaElement | null)?.value.includes('gpt-image-1-mini'));
    await save.click();
    await waitFor('the default prices saved', async () => (await h.admin.settings.get()).priceTable.length === 4);
  });

  it('sets a model alias and the strict switch on the Models page; the data plane serves them', async () => {
    await openPage('Models');
    const table = page.getByRole('table', { name: 'Model aliases' });
    await table.getByText('dall-e-3', { exact: true }).waitFor();
    const form = page.getByRole('form', { name: 'Set model alias' });
    await form.locator('input[name=alias]').fill('bad name');
    await form.getByRole('button', { name: 'Save alias' }).click();
    await form.getByRole('alert').waitFor(); // the API's own message about the alias shape
    await form.locator('input[name=alias]').fill('my-app-model');
    await form.getByRole('button', { name: 'Save alias' }).click();
    await table.getByText('my-app-model', { exact: true }).waitFor();
    const sdk = h.sdk((await h.createKey()).secret);
    expect((await waitFor('my-app-model on /v1/models', () => sdk.models.retrieve('my-app-model').catch(() => null), 1_000)).id).toBe('my-app-model');
    await page.getByRole('switch', { name: 'Strict model names' }).check();
    await waitFor('strict saved', async () => (await h.admin.settings.get()).modelAliasesStrict);
    await screenshotBoth('models');
    await h.admin.settings.update({ modelAliasesStrict: false });
  });

  it('shows the request in Activity and opens its detail with the attempts', async () => {
    await openPage('Activity');
    const row = page.locator('tbody tr', { hasText: 'browser-acct' }).first();
    await row.waitFor();
    await screenshotBoth('activity');
    await page
      .getByRole('link', { name: state.requestId.slice(0, 12) })
      .first()
      .click();
    await page.getByRole('heading', { level: 1, name: `Request ${state.requestId}` }).waitFor();
    await page.locator('tbody tr', { hasText: 'browser-acct' }).waitFor();
    await screenshotBoth('activity-detail');
    await openPage('Overview');
    await page.getByRole('img', { name: /Requests and images per minute/ }).waitFor();
    await screenshotBoth('overview');
  });

  it('lists a running async job under Activity and cancels it from there', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 60_000 }));
    const { secret } = await h.createKey({ name: 'job-key' });
    const submitted = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ prompt: 'a job to cancel from the console' }),
    });
    expect(submitted.status).toBe(202);
    const clientId = ((await submitted.json()) as { id: string }).id;
    const short = openCapability(JOB_ID_PREFIX, clientId)!.idHash.slice(0, 12);
    await waitFor('the job at the upstream', async () => (h.fake.concurrency.current('acct-browser') === 1 ? true : null));
    await openPage('Activity');
    const row = page.getByRole('table', { name: 'Async jobs' }).locator('tbody tr', { hasText: short });
    await row.filter({ hasText: 'running' }).waitFor();
    await row.getByText('job-key', { exact: true }).waitFor();
    await screenshotBoth('activity-jobs');
    const cancelled = page.waitForResponse((r) => r.url().endsWith('/cancel') && r.request().method() === 'POST');
    await row.getByRole('button', { name: `Cancel job ${short}` }).click();
    expect((await cancelled).status()).toBe(200);
    await row.filter({ hasText: 'cancelled' }).waitFor({ timeout: 20_000 });
    expect(await row.getByRole('button').count()).toBe(0);
    await waitFor('the upstream call to be cut', async () => (h.fake.concurrency.current('acct-browser') === 0 ? true : null));
    const view = await fetch(`${h.gatewayUrl}/v1/images/jobs/${clientId}`, { headers: { authorization: `Bearer ${secret}` } });
    expect(((await view.json()) as { status: string }).status).toBe('cancelled');
    expect(await page.content()).not.toContain(clientId.slice(JOB_ID_PREFIX.length));
    h.fake.reset();
    await openPage('Overview'); // where the next step expects to be
  });

  it('is keyboard operable: Tab reaches the navigation and Enter opens a page', async () => {
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const focused: string[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.textContent?.trim() ?? ''}`));
    }
    expect(focused).toEqual(['A Image Gateway', 'A Overview', 'A Keys']);
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid'); // focus is visible
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();
  });

  it('signs out; the old session cookie is then refused by the API', async () => {
    const withCookie = (path: string, init: RequestInit = {}) =>
      fetch(`${h.adminUrl}${path}`, { ...init, headers: { cookie: `cig_admin_session=${state.sessionCookie}`, ...init.headers } });
    expect((await withCookie('/admin/api/keys')).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect((await withCookie('/admin/api/keys')).status).toBe(401);
    expect((await context.cookies()).find((c) => c.name === 'cig_admin_session')).toBeUndefined();
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
