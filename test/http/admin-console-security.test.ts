import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminApp } from '../../src/admin/admin-app.js';
import { createAdminSessionStore, SESSION_IDLE_MS } from '../../src/admin/admin-session.js';
import { CONSOLE_CSP } from '../../src/admin/console-headers.js';
import { registerConsoleStatic } from '../../src/admin/console-static.js';
import { createControlServices } from '../../src/control/control-services.js';
import { createCredentialCipher } from '../../src/control/credential-cipher.js';
import type { Db } from '../../src/store/db.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { openMigratedPglite } from '../support/pglite-template.js';

const ADMIN_TOKEN = 'admin-token-for-console-tests-0123456789';
const HOST = 'admin.example.test';

let dir: string;
let db: Db;
let app: FastifyInstance;
let clock = 1_000_000;
const routes: Array<{ method: string; url: string }> = [];
/** Every response body this file saw, with the request that produced it. */
const seen: Array<{ what: string; body: string }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-console-sec-'));
  const dist = join(dir, 'dist');
  await mkdir(join(dist, 'assets'), { recursive: true });
  await writeFile(join(dist, 'index.html'), '<!doctype html><title>console</title><script type="module" src="assets/app.js"></script>');
  await writeFile(join(dist, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(join(dir, 'outside.txt'), 'must never be served');
  db = await openMigratedPglite(join(dir, 'pglite'));
  const control = createControlServices({ db, cipher: createCredentialCipher(randomBytes(32)) });
  app = buildAdminApp({
    control,
    adminToken: ADMIN_TOKEN,
    sessions: createAdminSessionStore({ now: () => clock }),
    extend: (a) => {
      a.addHook('onRoute', (r: RouteOptions) => {
        for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
      });
      registerConsoleStatic(a, dist);
    },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

async function call(opts: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await app.inject({ ...opts, headers: { host: HOST, ...opts.headers } });
  seen.push({ what: `${opts.method ?? 'GET'} ${opts.url as string}`, body: res.body });
  return res;
}

async function signIn(extraHeaders: Record<string, string> = {}): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await call({ method: 'POST', url: '/admin/session', payload: { token: ADMIN_TOKEN }, headers: extraHeaders });
  expect(res.statusCode, res.body).toBe(201);
  const setCookie = String(res.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, csrf: (res.json() as { csrf_token: string }).csrf_token, setCookie };
}

const apiRoutes = () => routes.filter((r) => r.url.startsWith('/admin/api'));
const concrete = (url: string) => url.replace(/:[A-Za-z_]+/g, 'x').replace(/\*$/, 'x');
const codeOf = (res: LightMyRequestResponse) => (res.json() as { error?: { code?: string } }).error?.code;

describe('every admin API route refuses without a valid session or token', () => {
  it('the route list is collected automatically and holds the known routes', () => {
    const urls = apiRoutes().map((r) => `${r.method} ${r.url}`);
    for (const known of [
      'GET /admin/api/keys',
      'POST /admin/api/keys',
      'DELETE /admin/api/accounts/:ref/cooldown',
      'GET /admin/api/activity',
      'GET /admin/api/activity/:requestId',
      'GET /admin/api/overview',
      'PATCH /admin/api/settings',
      'PUT /admin/api/model-aliases/:alias',
      'POST /admin/api/model-aliases/reset',
    ]) {
      expect(urls).toContain(known);
    }
    expect(urls.length).toBeGreaterThanOrEqual(24);
  });

  it.each([
    { name: 'no credentials', headers: {} },
    { name: 'a wrong bearer token', headers: { authorization: 'Bearer nope' } },
    { name: 'a malformed authorization header', headers: { authorization: ADMIN_TOKEN } },
    { name: 'an unknown session cookie', headers: { cookie: 'cig_admin_session=forged' } },
    { name: 'a wrong bearer token beside a forged cookie', headers: { authorization: 'Bearer nope', cookie: 'cig_admin_session=forged' } },
  ])('$name → 401 on every route', async ({ headers }) => {
    for (const r of apiRoutes()) {
      const res = await call({
        method: r.method as InjectOptions['method'],
        url: concrete(r.url),
        headers,
        payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : {},
      });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(codeOf(res)).toBe('admin_unauthorized');
    }
  });

  it('an expired session is refused on every route', async () => {
    const { cookie, csrf } = await signIn();
    clock += SESSION_IDLE_MS;
    for (const r of apiRoutes()) {
      const res = await call({ method: r.method as InjectOptions['method'], url: concrete(r.url), headers: { cookie, 'x-csrf-token': csrf } });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
    }
  });

  it('the bearer token and a live session are both accepted', async () => {
    expect((await call({ method: 'GET', url: '/admin/api/keys', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode).toBe(200);
    const { cookie } = await signIn();
    expect((await call({ method: 'GET', url: '/admin/api/keys', headers: { cookie } })).statusCode).toBe(200);
    clock += SESSION_IDLE_MS - 1; // used just before the idle limit: still live, and the clock restarts
    expect((await call({ method: 'GET', url: '/admin/api/keys', headers: { cookie } })).statusCode).toBe(200);
  });
});

describe('sign-in and the session cookie', () => {
  it('sets an HttpOnly, SameSite=Strict cookie scoped to /admin, Secure only over https', async () => {
    const plain = (await signIn()).setCookie;
    expect(plain).toMatch(/^cig_admin_session=[A-Za-z0-9_-]{43}; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect((await signIn({ 'x-forwarded-proto': 'https' })).setCookie).toMatch(/; Secure$/);
  });

  it.each([
    { name: 'a wrong token', payload: { token: 'nope' }, status: 401 },
    { name: 'no body', payload: undefined, status: 400 },
    { name: 'a token of the wrong type', payload: { token: 42 }, status: 400 },
  ])('refuses $name without setting a cookie', async ({ payload, status }) => {
    const res = await call({ method: 'POST', url: '/admin/session', payload });
    expect(res.statusCode).toBe(status);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('never takes the token from the URL', async () => {
    const res = await call({ method: 'POST', url: `/admin/session?token=${ADMIN_TOKEN}` });
    expect(res.statusCode).toBe(400);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a cross-origin sign-in', async () => {
    const res = await call({ method: 'POST', url: '/admin/session', payload: { token: ADMIN_TOKEN }, headers: { origin: 'https://evil.example' } });
    expect(res.statusCode).toBe(403);
  });

  it('GET /admin/session answers the CSRF token of a live session only', async () => {
    const { cookie, csrf } = await signIn();
    expect((await call({ method: 'GET', url: '/admin/session', headers: { cookie } })).json()).toEqual({ signed_in: true, csrf_token: csrf });
    expect((await call({ method: 'GET', url: '/admin/session' })).statusCode).toBe(401);
  });

  it('sign-out needs the CSRF header, then the cookie is dead and cleared', async () => {
    const { cookie, csrf } = await signIn();
    expect((await call({ method: 'POST', url: '/admin/session/logout', headers: { cookie } })).statusCode).toBe(403);
    const out = await call({ method: 'POST', url: '/admin/session/logout', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^cig_admin_session=; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=0/);
    expect((await call({ method: 'GET', url: '/admin/api/keys', headers: { cookie } })).statusCode).toBe(401);
  });
});

describe('CSRF rule for cookie sessions', () => {
  it.each([
    { name: 'no CSRF header', headers: (_csrf: string) => ({}), status: 403 },
    { name: 'a wrong CSRF header', headers: (csrf: string) => ({ 'x-csrf-token': `${csrf}x` }), status: 403 },
    { name: 'the right header from a foreign Origin', headers: (csrf: string) => ({ 'x-csrf-token': csrf, origin: 'https://evil.example' }), status: 403 },
    { name: 'the right header from a malformed Origin', headers: (csrf: string) => ({ 'x-csrf-token': csrf, origin: 'null' }), status: 403 },
    { name: 'the right header, no Origin', headers: (csrf: string) => ({ 'x-csrf-token': csrf }), status: 201 },
    { name: 'the right header, same Origin', headers: (csrf: string) => ({ 'x-csrf-token': csrf, origin: `http://${HOST}` }), status: 201 },
  ])('POST /admin/api/groups with $name → $status', async ({ headers, status }) => {
    const { cookie, csrf } = await signIn();
    const res = await call({
      method: 'POST',
      url: '/admin/api/groups',
      headers: { cookie, ...headers(csrf) },
      payload: { name: `g-${Math.random().toString(36).slice(2, 8)}` },
    });
    expect(res.statusCode, res.body).toBe(status);
    if (status === 403) expect(codeOf(res)).toBe('admin_forbidden');
  });

  it("GET needs no CSRF header; another session's CSRF token does not count", async () => {
    const a = await signIn();
    const b = await signIn();
    expect((await call({ method: 'GET', url: '/admin/api/groups', headers: { cookie: a.cookie } })).statusCode).toBe(200);
    const res = await call({ method: 'DELETE', url: '/admin/api/groups/none', headers: { cookie: a.cookie, 'x-csrf-token': b.csrf } });
    expect(res.statusCode).toBe(403);
  });

  it('the bearer token needs no CSRF header (scripts)', async () => {
    const res = await call({ method: 'POST', url: '/admin/api/groups', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'scripted' } });
    expect(res.statusCode).toBe(201);
  });
});

describe('console pages', () => {
  it.each(['/admin/', '/admin/assets/app.js', '/admin/api/keys', '/admin/session'])('%s carries the CSP and the other security headers', async (url) => {
    const res = await call({ method: 'GET', url });
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('the CSP allows only this origin and no inline code', () => {
    expect(CONSOLE_CSP).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it('serves index.html and its assets with the right types; /admin and the root redirect', async () => {
    const index = await call({ method: 'GET', url: '/admin/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.body).not.toMatch(/<script>|<style|style=/);
    expect((await call({ method: 'GET', url: '/admin/assets/app.js' })).headers['content-type']).toBe('text/javascript; charset=utf-8');
    const redirect = await call({ method: 'GET', url: '/admin' });
    expect([redirect.statusCode, redirect.headers.location]).toEqual([302, '/admin/']);
    const root = await call({ method: 'GET', url: '/' });
    expect([root.statusCode, root.headers.location]).toEqual([302, '/admin/']);
  });

  it('without a built console, /admin/ says how to build it and the API still works', async () => {
    const bare = buildAdminApp({ control: {} as never, adminToken: ADMIN_TOKEN, extend: (a) => registerConsoleStatic(a, join(dir, 'no-such-dist')) });
    const page = await bare.inject({ method: 'GET', url: '/admin/' });
    expect([page.statusCode, page.body]).toEqual([503, 'web console not built: run `npm run build:web`\n']);
    expect((await bare.inject({ method: 'GET', url: '/admin/api/health', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode).toBe(200);
    await bare.close();
  });

  it.each(['/admin/assets/../../outside.txt', '/admin/assets/%2e%2e/%2e%2e/outside.txt', '/admin/assets/nope.js', '/admin/index.html/../outside.txt'])(
    'does not serve %s',
    async (url) => {
      const res = await call({ method: 'GET', url });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.body).not.toContain('must never be served');
    },
  );
});

describe('no secret in any API response or page', () => {
  it('a key secret appears only in its create response; tokens never', async () => {
    const { cookie, csrf } = await signIn();
    const headers = { cookie, 'x-csrf-token': csrf };
    const created = await call({ method: 'POST', url: '/admin/api/keys', headers, payload: { name: 'leak-check' } });
    expect(created.statusCode).toBe(201);
    const secret = (created.json() as { secret: string }).secret;
    const auth = makeCodexAuthJson({ accountId: 'acct-leak' });
    const imported = await call({
      method: 'POST',
      url: '/admin/api/accounts/import',
      headers,
      payload: { auth, name: 'leak-acct', proxy_url: 'http://user:proxy-pass-123@127.0.0.1:3128' },
    });
    expect(imported.statusCode, imported.body).toBe(201);
    for (const url of [
      '/admin/api/keys',
      '/admin/api/keys/leak-check',
      '/admin/api/accounts',
      '/admin/api/accounts/leak-acct',
      '/admin/api/accounts/health',
      '/admin/api/usage',
      '/admin/api/activity',
      '/admin/api/overview',
      '/admin/session',
      '/admin/',
      '/admin/assets/app.js',
    ]) {
      expect((await call({ method: 'GET', url, headers })).statusCode, url).toBeLessThan(400);
    }
    const secrets = [secret, auth.tokens.access_token, auth.tokens.refresh_token, auth.tokens.id_token, 'proxy-pass-123', ADMIN_TOKEN];
    const createResponse = created.body;
    for (const { what, body } of seen) {
      for (const s of secrets) {
        if (s === secret && body === createResponse) continue;
        expect(body.includes(s), `${what} leaks a secret`).toBe(false);
      }
    }
  });
});
