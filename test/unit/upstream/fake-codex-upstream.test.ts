import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { fakeBehaviors, startFakeCodexUpstream, type Behavior, type FakeCodexUpstream } from '../../support/fake-codex-upstream.js';
import { makeCodexAuthJson, makeCodexJwt } from '../../support/jwt.js';
import { rejectionOf, waitFor } from './upstream-test-kit.js';

const CODEX_HEADERS = { 'user-agent': 'codex_cli_rs/0.142.0', originator: 'codex_cli_rs', 'content-type': 'application/json' };
const GENERATE = { prompt: 'a red fox', model: 'gpt-image-2' };

let fake: FakeCodexUpstream;
const agent = new Agent({ keepAliveTimeout: 1000 });

interface PostOptions {
  account?: string;
  token?: string | null;
  headers?: Record<string, string>;
  body?: unknown;
  path?: string;
  signal?: AbortSignal;
}

async function post(opts: PostOptions = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string; json: () => unknown }> {
  const token = opts.token === undefined ? makeCodexJwt({ accountId: opts.account ?? 'acct-a' }) : opts.token;
  const res = await request(`${fake.url}${opts.path ?? '/backend-api/codex/images/generations'}`, {
    dispatcher: agent,
    method: 'POST',
    headers: { ...CODEX_HEADERS, ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...opts.headers },
    body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body ?? GENERATE),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

beforeAll(async () => {
  fake = await startFakeCodexUpstream();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  await agent.close();
});

describe('fake Codex upstream: routes and wire checks', () => {
  it('serves on 127.0.0.1 under /backend-api/codex', () => {
    expect(fake.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/backend-api\/codex$/);
  });

  it.each(['/backend-api/codex/responses/', '/v1/responses', '/v1/images/generations', '/backend-api/codex/images/generations/'])('404s %s', async (path) => {
    const res = await post({ path });
    expect([res.status, res.json()]).toEqual([404, { detail: 'Not Found' }]);
  });

  it.each<[string, PostOptions, number, unknown]>([
    ['no bearer', { token: null }, 401, { error: { message: 'Missing bearer or basic authentication in header' } }],
    ['an opaque token', { token: 'sk-not-a-jwt' }, 401, { error: { code: 'invalid_jwt' } }],
    [
      'an expired token',
      { token: makeCodexJwt({ accountId: 'acct-a', expSeconds: Math.floor(Date.now() / 1000) - 10 }) },
      401,
      { error: { message: expect.stringMatching(/^Your authentication token has expired/), type: 'invalid_request_error', code: 'token_expired' } },
    ],
    ['a token without an account claim', { token: makeCodexJwt({ accountId: null }) }, 401, { error: { code: 'invalid_jwt' } }],
    ['a mismatched ChatGPT-Account-ID', { headers: { 'chatgpt-account-id': 'acct-other' } }, 401, { error: { code: 'account_mismatch' } }],
    ['a non-JSON content type', { headers: { 'content-type': 'text/plain' } }, 400, { detail: 'Content-Type must be application/json' }],
    ['broken JSON', { body: '{"prompt":' }, 400, { detail: 'Invalid JSON body' }],
    ['a missing prompt', { body: { model: 'gpt-image-2' } }, 400, { detail: 'prompt: field required' }],
    ['a missing model', { body: { prompt: 'x' } }, 400, { detail: 'model: field required' }],
    ['n out of range', { body: { ...GENERATE, n: 11 } }, 400, { detail: 'n: expected an integer from 1 to 10' }],
    ['images on a generation', { body: { ...GENERATE, images: [] } }, 400, { detail: 'images: not allowed on generations' }],
    [
      'edit images as plain strings',
      { path: '/backend-api/codex/images/edits', body: { ...GENERATE, images: ['data:image/png;base64,AAAA'] } },
      400,
      { detail: 'images[0]: expected object' },
    ],
    ['an edit without images', { path: '/backend-api/codex/images/edits', body: GENERATE }, 400, { detail: 'images: expected a non-empty array' }],
  ])('rejects %s', async (_name, opts, status, body) => {
    const res = await post(opts);
    expect(res.status).toBe(status);
    expect(res.json()).toMatchObject(body as object);
  });

  it('answers a non-Codex identity like Cloudflare (1010), unless told not to check', async () => {
    const res = await post({ headers: { 'user-agent': 'curl/8' } });
    expect([res.status, res.text]).toEqual([403, 'error code: 1010']);
    expect((await post({ headers: { originator: 'evil' } })).status).toBe(403);
    const lax = await startFakeCodexUpstream({ requireCodexIdentity: false });
    const relaxed = await request(`${lax.baseUrl}/images/generations`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${makeCodexJwt({ accountId: 'x' })}` },
      body: JSON.stringify(GENERATE),
    });
    await relaxed.body.dump();
    await lax.close();
    expect(relaxed.statusCode).toBe(200);
  });

  it('rejected requests do not consume a queued behaviour', async () => {
    fake.setBehavior('acct-a', [fakeBehaviors.serverError(502)]);
    expect((await post({ body: { model: 'gpt-image-2' } })).status).toBe(400);
    expect((await post()).status).toBe(502);
    expect((await post()).status).toBe(200);
  });
});

describe('fake Codex upstream: token revocation and the OAuth endpoint', () => {
  it('a revoked access token gets 401 token_revoked; another token of the same account still works; reset forgets', async () => {
    const revoked = makeCodexJwt({ accountId: 'acct-r', extra: { jti: 'one' } });
    const other = makeCodexJwt({ accountId: 'acct-r', extra: { jti: 'two' } });
    fake.revokeAccessToken(revoked);
    const res = await post({ token: revoked });
    expect(res.status).toBe(401);
    expect((res.json() as { error: { code: string } }).error.code).toBe('token_revoked');
    expect((await post({ token: other })).status).toBe(200);
    fake.reset();
    expect((await post({ token: revoked })).status).toBe(200);
  });

  it('serves the refresh grant at /oauth/token: rotation, reuse refused, scripted failures, counts per account', async () => {
    expect(fake.oauthUrl).toBe(`${fake.url}/oauth/token`);
    const refresh = async (token: string) => {
      const res = await request(fake.oauthUrl, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'app_EMoamEEZ73f0CkXaXp7hrann', grant_type: 'refresh_token', refresh_token: token }),
      });
      return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
    };
    const first = await refresh('rt_acct-o_0001');
    expect(first.status).toBe(200);
    expect(Object.keys(first.json).sort()).toEqual(['access_token', 'id_token', 'refresh_token']);
    expect((await refresh('rt_acct-o_0001')).json).toMatchObject({ error: { code: 'refresh_token_reused' } });
    expect((await refresh(first.json.refresh_token as string)).status).toBe(200);
    fake.oauth.setFailure('acct-o', [{ kind: 'transient', status: 503 }]);
    expect((await refresh('rt_acct-o_0002')).status).toBe(503);
    expect((await refresh('rt_acct-o_0002')).status).toBe(200); // a queued failure is used once
    expect(fake.oauth.refreshCount('acct-o')).toBe(3);
    expect(fake.oauth.calls.map((c) => c.status)).toEqual([200, 400, 200, 503, 200]);
  });
});

describe('fake Codex upstream: recording', () => {
  it('records headers (token reduced to the account), token hash and body fields without image data', async () => {
    const token = makeCodexJwt({ accountId: 'acct-r' });
    const image = `data:image/png;base64,${Buffer.alloc(300).toString('base64')}`;
    await post({
      token,
      path: '/backend-api/codex/images/edits',
      headers: { 'chatgpt-account-id': 'acct-r', traceparent: 't-1' },
      body: { ...GENERATE, images: [{ image_url: image }, { image_url: 'https://example.com/cat.png' }], mask: { image_url: image } },
    });
    const [seen] = fake.requests;
    expect(seen).toMatchObject({
      seq: expect.any(Number),
      endpoint: 'edits',
      accountId: 'acct-r',
      status: 200,
      headers: { authorization: 'account:acct-r', 'chatgpt-account-id': 'acct-r', traceparent: 't-1', 'user-agent': 'codex_cli_rs/0.142.0' },
      body: {
        fields: GENERATE,
        images: [
          { kind: 'data_url', mime: 'image/png', bytes: 300 },
          { kind: 'url', mime: null, bytes: 'https://example.com/cat.png'.length },
        ],
        mask: { kind: 'data_url', mime: 'image/png', bytes: 300 },
      },
    });
    expect(seen?.tokenHash).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(fake.requests)).not.toContain(token);
    expect(JSON.stringify(fake.requests)).not.toContain(image.slice(30, 60));
  });

  it('reset() clears requests and behaviours', async () => {
    fake.setBehavior('*', fakeBehaviors.serverError());
    await post();
    fake.reset();
    expect(fake.requests).toHaveLength(0);
    expect((await post()).status).toBe(200);
  });
});

describe('fake Codex upstream: success bodies', () => {
  it('answers like the Codex images endpoint with the requested n and per-image usage', async () => {
    const res = await post({ body: { ...GENERATE, n: 2 } });
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    const body = res.json() as { created: number; data: { b64_json: string }[]; usage: Record<string, unknown> };
    expect(body).toMatchObject({ background: 'opaque', output_format: 'png', quality: 'medium', size: '1024x1024' });
    expect(body.created).toBeCloseTo(Date.now() / 1000, -1);
    expect(body.data).toHaveLength(2);
    expect(
      Buffer.from(body.data[0]?.b64_json ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    expect(body.usage).toMatchObject({ input_tokens: 34, output_tokens: 2744, total_tokens: 2778 });
  });

  it('streams large images of the requested size, chunked on request, and can omit usage', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.success({ imageBytes: 3 * 1024 * 1024, n: 1, usage: null, chunked: true, extra: { size: '1024x1536' } }));
    const res = await post();
    const body = res.json() as { data: { b64_json: string }[]; usage?: unknown; size: string };
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(Buffer.from(body.data[0]?.b64_json ?? '', 'base64').length).toBe(3 * 1024 * 1024);
    expect(body).not.toHaveProperty('usage');
    expect(body.size).toBe('1024x1536');
  });
});

describe('fake Codex upstream: behaviours', () => {
  it.each<[string, Behavior, number, unknown]>([
    [
      'rateLimited',
      fakeBehaviors.rateLimited({ resetsInSeconds: 77 }),
      429,
      { error: { type: 'usage_limit_reached', message: 'The usage limit has been reached', plan_type: 'plus', resets_in_seconds: 77 } },
    ],
    ['unauthorized', fakeBehaviors.unauthorized(), 401, { error: { type: 'invalid_request_error' } }],
    ['forbidden', fakeBehaviors.forbidden(), 403, { error: { type: 'permission_error' } }],
    ['forbidden (detail)', fakeBehaviors.forbidden({ detail: true }), 403, { detail: expect.any(String) }],
    ['serverError 503', fakeBehaviors.serverError(503), 503, { error: { type: 'server_error' } }],
    ['detailError', fakeBehaviors.detailError(422, 'bad size'), 422, { detail: 'bad size' }],
    [
      'badRequest',
      fakeBehaviors.badRequest(),
      400,
      { error: { code: 'moderation_blocked', message: 'Your request was rejected as a result of our safety system.' } },
    ],
    ['raw', fakeBehaviors.raw(418, { teapot: true }), 418, { teapot: true }],
  ])('%s', async (_name, behavior, status, body) => {
    fake.setBehavior('acct-a', behavior);
    const res = await post();
    expect(res.status).toBe(status);
    expect(res.json()).toMatchObject(body as object);
    expect(fake.requests[0]?.status).toBe(status);
  });

  it('queues per account, then falls back to sticky and default behaviours', async () => {
    fake.setBehavior('*', fakeBehaviors.serverError(500));
    fake.setBehavior('acct-a', [fakeBehaviors.unauthorized(), fakeBehaviors.rateLimited()]);
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await post()).status);
    expect(statuses).toEqual([401, 429, 500]);
    expect((await post({ account: 'acct-b' })).status).toBe(500);
    fake.setBehavior('acct-b', fakeBehaviors.success());
    expect((await post({ account: 'acct-b' })).status).toBe(200);
  });

  it('reset destroys the connection without an answer', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.reset());
    const err = await rejectionOf(post());
    expect((err as { code?: string }).code).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    expect(fake.requests[0]?.status).toBeNull();
  });

  it('hang never answers until the fake is reset', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.hang());
    const pending = rejectionOf(post());
    await waitFor(() => fake.concurrency.current('acct-a') === 1);
    fake.reset();
    expect((await pending) as Error).toBeInstanceOf(Error);
    await waitFor(() => fake.concurrency.current('acct-a') === 0);
  });

  it('slowHeaders delays the answer, then plays its follow-up', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.slowHeaders(150, fakeBehaviors.badRequest()));
    const startedAt = Date.now();
    const res = await post();
    expect(res.status).toBe(400);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
  });

  it('stallBody sends headers and part of the body, pauses, then finishes', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.stallBody(150));
    const startedAt = Date.now();
    const res = await request(`${fake.baseUrl}/images/generations`, {
      dispatcher: agent,
      method: 'POST',
      headers: { ...CODEX_HEADERS, authorization: `Bearer ${makeCodexJwt({ accountId: 'acct-a' })}` },
      body: JSON.stringify(GENERATE),
    });
    expect(res.statusCode).toBe(200);
    const chunks: { at: number; text: string }[] = [];
    for await (const chunk of res.body) chunks.push({ at: Date.now(), text: (chunk as Buffer).toString() });
    // Only lower bounds hold on a loaded machine: the first chunk may be read late, so the gap
    // between chunks can look shorter than the stall, but the whole body never comes sooner.
    expect(chunks[0]?.text).toMatch(/^\{"created":/);
    expect(() => JSON.parse(chunks[0]?.text ?? '')).toThrow();
    expect((chunks.at(-1)?.at ?? 0) - startedAt).toBeGreaterThanOrEqual(145);
    expect(() => JSON.parse(chunks.map((c) => c.text).join(''))).not.toThrow();
  });
});

describe('fake Codex upstream: concurrency', () => {
  it('counts in-flight requests per account and in total, and the highest seen', async () => {
    fake.setBehavior('*', fakeBehaviors.hang());
    const pending = [post(), post(), post(), post({ account: 'acct-b' })].map((p) => rejectionOf(p));
    await waitFor(() => fake.concurrency.total === 4);
    expect([fake.concurrency.current('acct-a'), fake.concurrency.current('acct-b'), fake.concurrency.current()]).toEqual([3, 1, 4]);
    expect([fake.concurrency.max('acct-a'), fake.concurrency.max('acct-b'), fake.concurrency.max()]).toEqual([3, 1, 4]);
    fake.reset();
    await Promise.all(pending);
    await waitFor(() => fake.concurrency.total === 0);
    expect(fake.concurrency.current('acct-a')).toBe(0);
    expect(fake.concurrency.max('acct-a')).toBe(0);
  });

  it('counts a request out when the client goes away', async () => {
    fake.setBehavior('acct-a', fakeBehaviors.slowHeaders(60_000));
    const controller = new AbortController();
    const pending = rejectionOf(post({ signal: controller.signal }));
    await waitFor(() => fake.concurrency.current('acct-a') === 1);
    controller.abort();
    await pending;
    await waitFor(() => fake.concurrency.current('acct-a') === 0);
    expect(fake.concurrency.max('acct-a')).toBe(1);
  });

  it('counts a finished request out', async () => {
    await post();
    await waitFor(() => fake.concurrency.total === 0);
    expect(fake.concurrency.max('acct-a')).toBe(1);
  });
});

describe('test/support/jwt', () => {
  it('builds a three-part base64url JWT with the Codex claims', () => {
    const token = makeCodexJwt({ accountId: 'acct-j', planType: 'pro', email: 'j@example.com', expSeconds: 2_000_000_000, extra: { foo: 1 } });
    const parts = token.split('.');
    expect(parts).toHaveLength(3);
    for (const part of parts) expect(part).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString())).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString())).toMatchObject({
      exp: 2_000_000_000,
      email: 'j@example.com',
      foo: 1,
      'https://api.openai.com/auth': { chatgpt_account_id: 'acct-j', chatgpt_plan_type: 'pro' },
    });
  });

  it('builds a Codex CLI auth.json', () => {
    const auth = makeCodexAuthJson({ accountId: 'acct-j' });
    expect(auth).toMatchObject({ auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens: { account_id: 'acct-j' } });
    expect(auth.tokens.refresh_token).toMatch(/^rt_/);
    expect(auth.tokens.access_token).not.toBe(auth.tokens.id_token);
    expect(Number.isNaN(Date.parse(auth.last_refresh))).toBe(false);
    expect(makeCodexAuthJson({ accountId: 'acct-j', includeAccountId: false }).tokens).not.toHaveProperty('account_id');
  });
});
