import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors, type Behavior } from '../support/fake-codex/behaviors.js';
import { waitFor } from '../support/wait-for.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';

let h: GatewayHarness;
let secret: string;

/** Two accounts; account names sort so that `a-first` is always tried first on an idle gateway. */
beforeAll(async () => {
  // Account cooldowns off: these tests check failover itself, one request at a time (test/e2e/account-health.test.ts checks cooldowns).
  h = await startGatewayHarness({
    env: {
      UPSTREAM_HEADERS_TIMEOUT_MS: '800',
      UPSTREAM_BODY_TIMEOUT_MS: '400',
      UPSTREAM_ATTEMPT_TIMEOUT_MS: '1500',
      RATE_LIMIT_COOLDOWN_CAP_MS: '0',
      FAILURE_BACKOFF_BASE_MS: '0',
      // The busy refusal below is the instant one (test/e2e/admission-queue.test.ts checks the wait).
      ADMISSION_WAIT_MS: '0',
    },
  });
  await h.importAccount('a-first');
  await h.importAccount('b-second');
  await h.importAccount('solo', { imageConcurrency: 1 });
  secret = (await h.createKey({ routing: { mode: 'accounts', accounts: ['a-first', 'b-second'] } })).secret;
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const generate = (body: Record<string, unknown> = { prompt: 'a lighthouse' }, headers: Record<string, string> = {}) =>
  fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const accountsTried = (since: number) => h.fake.requests.slice(since).map((r) => r.accountId);

describe('failover to the next account', () => {
  it.each<[string, Behavior]>([
    ['401', fakeBehaviors.unauthorized()],
    ['403', fakeBehaviors.forbidden()],
    ['403 detail', fakeBehaviors.forbidden({ detail: true })],
    ['429', fakeBehaviors.rateLimited({ resetsInSeconds: 30 })],
    ['500', fakeBehaviors.serverError(500)],
    ['502', fakeBehaviors.serverError(502)],
    ['503', fakeBehaviors.serverError(503)],
    ['connection reset', fakeBehaviors.reset()],
    ['headers timeout', fakeBehaviors.hang()],
  ])('on %s from the first account', async (_name, behavior) => {
    h.fake.setBehavior('a-first', behavior);
    const before = h.fake.requests.length;
    const res = await generate();
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(1);
    expect(accountsTried(before)).toEqual(['a-first', 'b-second']);
    const events = await h.waitForLogEvents(res.headers.get('x-request-id')!, 1);
    expect(events.at(-1)).toMatchObject({ account_name: 'b-second', upstream_status: 200, failover_count: 1 });
  });

  it('does not fail over on 400 and passes the upstream message through in the OpenAI shape', async () => {
    h.fake.setBehavior('a-first', fakeBehaviors.badRequest());
    const before = h.fake.requests.length;
    const res = await generate();
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: 'Your request was rejected as a result of our safety system.', type: 'invalid_request_error', param: null, code: 'moderation_blocked' },
    });
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(accountsTried(before)).toEqual(['a-first']);
  });
});

describe('metrics of a failover', () => {
  /** The value of one series in the Prometheus text, 0 when absent. */
  const seriesValue = (text: string, name: string, labels: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  it('counts the failover by reason, both upstream responses by status, and the request once', async () => {
    const scrape = async () => (await fetch(`${h.gatewayUrl}/metrics`)).text();
    for (const account of ['a-first', 'b-second']) h.fake.setBehavior(account, [fakeBehaviors.rateLimited({ resetsInSeconds: 1 })]);
    const before = await scrape();
    const res = await generate();
    await res.arrayBuffer();
    expect(res.status).toBe(429);
    await h.waitForLogEvents(res.headers.get('x-request-id')!);
    const after = await scrape();
    const delta = (name: string, labels: string) => seriesValue(after, name, labels) - seriesValue(before, name, labels);
    expect(delta('codex_image_failovers_total', 'reason="rate_limited"')).toBe(2);
    expect(delta('codex_image_upstream_responses_total', 'status_class="4xx"')).toBe(2);
    expect(delta('codex_image_requests_total', 'status="429",error_class="rate_limited"')).toBe(1);
  });
});

describe('once the answer is streaming', () => {
  it('a body that stalls is cut, not retried elsewhere, logged as upstream_body, and frees its slots', async () => {
    for (const account of ['a-first', 'b-second']) h.fake.setBehavior(account, [fakeBehaviors.stallBody(Number.POSITIVE_INFINITY)]);
    const before = h.fake.requests.length;
    const res = await generate();
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    const tried = accountsTried(before);
    expect(tried).toHaveLength(1);
    const events = await h.waitForLogEvents(res.headers.get('x-request-id')!);
    expect(events.at(-1)).toMatchObject({ account_name: tried[0], upstream_status: 200, error_class: 'upstream_body' });
    await waitFor('the stalled upstream connection to close', () => h.fake.concurrency.total === 0 || null);
    const next = await generate();
    expect(next.status).toBe(200);
  });
});

describe('a client that stops reading', () => {
  it('is cut after the body idle timeout, so it cannot pin an account slot', async () => {
    // Its own gateway: an attempt timeout far beyond the wait below, so only the idle rule can end it.
    const g = await startGatewayHarness({ fake: h.fake, env: { UPSTREAM_BODY_TIMEOUT_MS: '400', UPSTREAM_ATTEMPT_TIMEOUT_MS: '120000' } });
    try {
      await g.importAccount('stall-reader');
      const key = await g.createKey();
      h.fake.setBehavior('stall-reader', [fakeBehaviors.success({ imageBytes: 24 * 1024 * 1024 })]);
      const { hostname: host, port } = new URL(g.gatewayUrl);
      const socket = connect({ host, port: Number(port) });
      const body = JSON.stringify({ prompt: 'never read' });
      socket.write(
        `POST /v1/images/generations HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key.secret}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.pause(); // headers arrived; now stop reading for good
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await waitFor('the gateway to give up on the stalled client', () => h.fake.concurrency.current('stall-reader') === 0 || null, 10_000);
      socket.destroy();
      await closed;
      // The request log is written off the request path: wait for the line rather than read too early.
      const line = await waitFor(
        "the stalled request's log line",
        async () => (await g.readLogEvents()).find((e) => e.account_name === 'stall-reader') ?? null,
      );
      expect(line).toMatchObject({ upstream_status: 200, error_class: 'client_aborted' });
      const next = await fetch(`${g.gatewayUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'after' }),
      });
      expect(next.status).toBe(200);
    } finally {
      await g.stop();
    }
  });
});

describe('exhaustion statuses', () => {
  it.each<[string, Behavior, number, string, string | null]>([
    // Only the rate-limited pool knows when to come back (the fake says resets_in_seconds: 3600).
    ['every account rate limited → 429', fakeBehaviors.rateLimited(), 429, 'accounts_rate_limited', '3600'],
    // A 503 always says when to retry; without anything better, the default second.
    ['every account rejects auth → 503', fakeBehaviors.unauthorized(), 503, 'no_usable_accounts', '1'],
    ['every account 500s → 502', fakeBehaviors.serverError(500), 502, 'account_pool_exhausted', null],
    ['every account times out → 504', fakeBehaviors.hang(), 504, 'upstream_timeout', null],
  ])('%s', async (_name, behavior, status, code, retryAfter) => {
    h.fake.setBehavior('*', behavior);
    const res = await generate();
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string; type: string; param: null } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain('all eligible codex image accounts failed for this request');
    expect(res.headers.get('retry-after')).toBe(retryAfter);
    expect(res.headers.has('retry-after-ms')).toBe(retryAfter !== null);
    expect(res.headers.get('x-should-retry')).toBeNull();
    const events = await h.waitForLogEvents(res.headers.get('x-request-id')!, 1);
    expect(events.at(-1)).toMatchObject({ event: 'exhausted', upstream_status: status, account_name: null });
  });

  it('429 accounts_busy when every account is at its concurrency cap', async () => {
    const key = await h.createKey({ routing: { mode: 'accounts', accounts: ['solo'] } });
    h.fake.setBehavior('solo', [fakeBehaviors.success({ delayMs: 600 })]);
    const call = () =>
      fetch(`${h.gatewayUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'x' }),
      });
    const first = call();
    await waitFor('the first request to hold the account', () => h.fake.concurrency.current('solo') === 1 || null);
    const second = await call();
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('accounts_busy');
    expect((await first).status).toBe(200);
  });
});

describe('what reaches the upstream', () => {
  it('Codex CLI identity headers and the account id; never the client credentials or SDK headers', async () => {
    const before = h.fake.requests.length;
    const res = await generate(
      { prompt: 'headers', user: 'end-user-7', response_format: 'b64_json' },
      {
        'user-agent': 'curl/8.1',
        originator: 'evil-client',
        cookie: 'session=abc',
        'x-stainless-os': 'Linux',
        'x-forwarded-for': '203.0.113.9',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    );
    expect(res.status).toBe(200);
    const sent = h.fake.requests[before]!;
    expect(sent.headers['user-agent']).toMatch(/^codex_cli_rs\/0\.142\.0/);
    expect(sent.headers.originator).toBe('codex_cli_rs');
    // The account id header matches the account whose token was used.
    expect(['a-first', 'b-second']).toContain(sent.accountId);
    expect(sent.headers['chatgpt-account-id']).toBe(sent.accountId);
    expect(sent.headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    for (const name of ['cookie', 'x-stainless-os', 'x-forwarded-for']) expect(sent.headers[name]).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain(secret);
    expect(sent.body!.fields).toMatchObject({ model: 'gpt-image-2' });
    for (const field of ['user', 'response_format', 'stream']) expect(sent.body!.fields).not.toHaveProperty(field);
  });
});
