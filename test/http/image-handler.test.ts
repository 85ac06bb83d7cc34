import type { ServerResponse } from 'node:http';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/control/api-key.js';
import { AccountHealth } from '../../src/dispatch/account-health.js';
import { AccountLimiter } from '../../src/limits/account-limiter.js';
import { AdmissionQueue } from '../../src/limits/admission-queue.js';
import { KeyLimiter } from '../../src/limits/key-limiter.js';
import type { ImageLogEvent } from '../../src/observe/image-log-event.js';
import { createUsageRecorder } from '../../src/observe/usage-recorder.js';
import type { UsageRollupDelta } from '../../src/store/types.js';
import { IMAGE_B64, OK_BODY, replies, ScriptedUpstream, type ScriptedReply, type UpstreamScript } from '../support/scripted-upstream.js';
import { makeAccount, makeKey, makeSnapshot } from '../support/snapshot-fixtures.js';
import { parseSse } from '../support/sse-events.js';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { waitFor } from '../support/wait-for.js';

const SECRET = 'cig_image-handler-secret';
const T0 = 1_800_000_000_000;
const POLICY = { rateLimitCapMs: 3_600_000, backoffBaseMs: 5_000, backoffMaxMs: 300_000 };

/**
 * The data-plane app around a scripted upstream, on a fixed clock, with the pieces a test looks
 * at afterwards: the limiters (slots held), account health, the request log and the 401 hook.
 */
async function startApp(
  opts: {
    script?: UpstreamScript;
    accounts?: string[];
    account?: Parameters<typeof makeAccount>[1];
    key?: Parameters<typeof makeKey>[0];
    env?: Record<string, string>;
  } = {},
) {
  const names = opts.accounts ?? ['a', 'b'];
  const snapshot = makeSnapshot(
    [makeKey({ hash: hashApiKey(SECRET), ...opts.key })],
    names.map((n) => makeAccount(n, opts.account)),
  );
  const upstream = new ScriptedUpstream(opts.script ?? {});
  const keyLimiter = new KeyLimiter(() => T0);
  const admission = new AdmissionQueue({ maxQueuedPerKey: 64 });
  const accountLimiter = new AccountLimiter(
    () => T0,
    undefined,
    (id) => admission.notify([id]),
  );
  const health = new AccountHealth(POLICY, () => T0);
  const log: ImageLogEvent[] = [];
  const authFailures: string[] = [];
  const rollups: UsageRollupDelta[] = [];
  const usage = createUsageRecorder({ apply: async (_deltas, _seq, rows) => void rollups.push(...rows), flushIntervalMs: 60_000 });
  const app = await buildTestGatewayApp(() => snapshot, {
    ...(opts.env ? { env: opts.env } : {}),
    overrides: {
      upstream,
      keyLimiter,
      accountLimiter,
      admission,
      health,
      now: () => T0,
      requestLog: { write: (event) => void log.push(event) },
      usage,
      onAuthFailure: (accountId) => void authFailures.push(accountId),
    },
  });
  // The raw response of each request, so a test can hang up on it the way a client's socket closes.
  const responses: ServerResponse[] = [];
  app.addHook('onRequest', async (_req, reply) => void responses.push(reply.raw));
  const slotsHeld = () => keyLimiter.inFlight('key_1') + names.reduce((sum, n) => sum + accountLimiter.inFlight(`acct_${n}`), 0);
  /** A request's log lines, once its bookkeeping is done (it runs after every permit is released, and writes them all at once). */
  const logFor = async (requestId: string): Promise<ImageLogEvent[]> => {
    const lines = () => log.filter((e) => e.request_id === requestId);
    await waitFor(`the log lines of ${requestId}`, () => lines().length > 0);
    return lines();
  };
  const logOf = (res: LightMyRequestResponse) => logFor(String(res.headers['x-request-id']));
  /** The usage rollup rows of every request recorded so far (flushed now). */
  const flushRollups = async (): Promise<UsageRollupDelta[]> => {
    await usage.flush();
    return rollups;
  };
  return { app, upstream, health, log, authFailures, responses, slotsHeld, logFor, logOf, flushRollups };
}

type TestApp = Awaited<ReturnType<typeof startApp>>;

const generate = (t: TestApp, body: Record<string, unknown> = {}, headers: Record<string, string> = { authorization: `Bearer ${SECRET}` }) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/images/generations',
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify({ prompt: 'a lighthouse', ...body }),
  });

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});
const start = async (opts: Parameters<typeof startApp>[0] = {}) => (current = await startApp(opts));

describe('refused before dispatch: the OpenAI error shape, no upstream call, no slot taken', () => {
  it.each<[string, Record<string, string>, string]>([
    ['no bearer', {}, 'missing_bearer'],
    ['an unknown key', { authorization: 'Bearer cig_not-a-key' }, 'invalid_api_key'],
  ])('%s: 401 %s', async (_name, headers, code) => {
    const t = await start();
    const res = await generate(t, {}, headers);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: { message: expect.any(String), type: 'authentication_error', param: null, code } });
    expect(res.headers['x-should-retry']).toBe('false');
    expect(res.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    expect(t.upstream.calls).toEqual([]);
    expect(t.slotsHeld()).toBe(0);
  });

  it('an expired key: 401 key_expired naming when; a key expiring later works', async () => {
    const expired = await start({ key: { expiresAt: T0 } });
    const res = await generate(expired);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({
      error: {
        message: `this API key expired at ${new Date(T0).toISOString()}; ask the gateway's operator for a new one`,
        type: 'authentication_error',
        param: null,
        code: 'key_expired',
      },
    });
    expect(expired.upstream.calls).toEqual([]);
    await expired.app.close();
    expect((await generate(await start({ key: { expiresAt: T0 + 1 } }))).statusCode).toBe(200);
  });

  it('a rotated-out secret works until its grace period ends (by the clock, not the snapshot), then 401 invalid_api_key', async () => {
    const rotated = { hash: hashApiKey('cig_the-new-secret'), previousSecret: { hash: hashApiKey(SECRET), expiresAt: T0 + 1 } };
    const during = await start({ key: rotated });
    expect((await generate(during)).statusCode).toBe(200);
    expect((await generate(during, {}, { authorization: 'Bearer cig_the-new-secret' })).statusCode).toBe(200);
    await during.app.close();
    const after = await start({ key: { ...rotated, previousSecret: { hash: hashApiKey(SECRET), expiresAt: T0 } } });
    const res = await generate(after);
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('invalid_api_key');
    expect((await generate(after, {}, { authorization: 'Bearer cig_the-new-secret' })).statusCode).toBe(200);
  });

  it.each<[string, Record<string, unknown>, string, string | null]>([
    ['no prompt', { prompt: undefined }, 'invalid_request', 'prompt'],
    ['n out of range', { n: 11 }, 'invalid_request', 'n'],
    ['an unknown size', { size: '3x3' }, 'unsupported_value', 'size'],
  ])('%s: 400 naming the field', async (_name, body, code, param) => {
    const t = await start();
    const res = await generate(t, body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code } });
    expect(res.headers['x-should-retry']).toBe('false');
    expect(t.upstream.calls).toEqual([]);
    expect(t.slotsHeld()).toBe(0);
  });

  it('a body that is not JSON: 400 invalid_json', async () => {
    const t = await start();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/images/generations',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      payload: '{"prompt": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null });
    expect(t.upstream.calls).toEqual([]);
  });
});

describe('answered by an account', () => {
  it('success: the upstream body passes through as it came, every slot is released afterwards', async () => {
    const t = await start();
    const res = await generate(t);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-gateway-model']).toBe('gpt-image-2');
    expect(res.json()).toEqual(OK_BODY);
    expect(t.upstream.calls).toEqual(['a']);
    const lines = await t.logOf(res);
    expect(lines).toEqual([
      expect.objectContaining({ event: 'attempt', account_name: 'a', upstream_status: 200, failover_count: 0, error_class: null, response_image_count: 1 }),
    ]);
    expect(t.slotsHeld()).toBe(0);
  });

  it("the outcome (usage and log lines) is recorded before the answer's last byte is written, so no kill can fall between a client's success and its count", async () => {
    const t = await start();
    // Body bytes written to the client so far (the answer keeps the upstream's Content-Length, so
    // the client sees it complete on its last byte). The piece that completes the body goes out
    // with the response's end, not through write.
    let bodyBytesWritten = 0;
    t.app.addHook('onRequest', async (_req, reply) => {
      const raw = reply.raw;
      const write = raw.write.bind(raw) as (chunk: unknown, ...rest: unknown[]) => boolean;
      raw.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (Buffer.isBuffer(chunk)) bodyBytesWritten += chunk.length;
        return write(chunk, ...rest);
      }) as typeof raw.write;
    });
    // When the log lines are written (with the usage, in one call): how much of the body was out.
    const writtenWhenLogged: number[] = [];
    const push = t.log.push.bind(t.log);
    t.log.push = (...events: ImageLogEvent[]) => {
      writtenWhenLogged.push(bodyBytesWritten);
      return push(...events);
    };
    const res = await generate(t);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(OK_BODY))));
    expect(res.json()).toEqual(OK_BODY);
    await t.logOf(res);
    // The scripted body arrives in two halves: the first is out when the outcome is recorded, the
    // second, which completes the body, is held until after it.
    expect(writtenWhenLogged).toEqual([Math.ceil(JSON.stringify(OK_BODY).length / 2)]);
  });

  it('b64_json keeps the upstream Content-Length (no chunked framing); response_format url, which changes the length, is chunked', async () => {
    const t = await start();
    const b64 = await generate(t);
    expect(b64.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(OK_BODY))));
    expect(b64.headers['transfer-encoding']).toBeUndefined();
    expect(b64.json()).toEqual(OK_BODY);
    const url = await generate(t, { response_format: 'url' });
    expect(url.headers['content-length']).toBeUndefined();
    expect(url.headers['transfer-encoding']).toBe('chunked');
    expect(url.json()).toMatchObject({ data: [{ url: `data:image/png;base64,${IMAGE_B64}` }] });
  });

  it.each<[string, ScriptedReply, string, Record<string, unknown>]>([
    ['502', replies.status(502), 'upstream_server', { cause: 'upstream_failure', failures: 1 }],
    ['a connection reset', replies.undiciError('ECONNRESET'), 'upstream_request', { cause: 'upstream_failure', failures: 1 }],
    ['a client that throws', replies.crash(), 'upstream_request', { cause: 'upstream_failure', failures: 1 }],
    ['429 with a reset hint', replies.rateLimited(600), 'rate_limited', { cause: 'rate_limited', untilMs: T0 + 600_000 }],
    ['401', replies.unauthorized(), 'auth', { cause: 'auth' }],
  ])('failover after %s is invisible to the client; the account gets its cooldown', async (_name, reply, errorClass, cooldown) => {
    const t = await start({ script: { a: reply } });
    const res = await generate(t);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK_BODY);
    expect(t.upstream.calls).toEqual(['a', 'b']);
    const lines = await t.logOf(res);
    expect(lines.at(-1)).toMatchObject({ account_name: 'b', upstream_status: 200, failover_count: 1 });
    if (lines.length === 2) expect(lines[0]).toMatchObject({ account_name: 'a', error_class: errorClass });
    expect(t.health.peekCooldown('acct_a', 'tok-a')).toMatchObject(cooldown);
    expect(t.health.peekCooldown('acct_b', 'tok-b')).toBeNull();
    expect(t.authFailures).toEqual(errorClass === 'auth' ? ['acct_a'] : []);
    expect(t.slotsHeld()).toBe(0);

    // The next request goes straight to b (a cools down): its answer looks exactly the same.
    const direct = await generate(t);
    expect(t.upstream.calls).toEqual(['a', 'b', 'b']);
    expect(direct.json()).toEqual(res.json());
    expect(Object.keys(direct.headers).sort()).toEqual(Object.keys(res.headers).sort());
  });

  it('a content-policy refusal is the answer: passed through as a 400 with the upstream message, no failover, no cooldown', async () => {
    const t = await start({ script: { a: replies.moderationBlocked() } });
    const res = await generate(t);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: { message: 'Your request was rejected as a result of our safety system.', type: 'invalid_request_error', param: null, code: 'moderation_blocked' },
    });
    expect(res.headers['x-should-retry']).toBe('false');
    expect(t.upstream.calls).toEqual(['a']);
    await t.logOf(res);
    expect(t.health.list()).toEqual([]);
    expect(t.slotsHeld()).toBe(0);
  });

  it('a 2xx body that breaks mid-way is cut, not retried elsewhere, logged as upstream_body, and frees its slots', async () => {
    const t = await start({
      script: { a: { kind: 'answer', status: 200, body: OK_BODY, bodyError: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) } },
    });
    const requestIds: string[] = [];
    t.app.addHook('onRequest', async (req) => void requestIds.push(req.id));
    await expect(generate(t)).rejects.toThrow(/destroyed before completion/);
    const lines = await t.logFor(requestIds[0]!);
    expect(lines).toEqual([expect.objectContaining({ account_name: 'a', upstream_status: 200, error_class: 'upstream_body' })]);
    expect(t.upstream.calls).toEqual(['a']);
    expect(t.slotsHeld()).toBe(0);
  });
});

describe('every account failed: the exhaustion error, with a wait when the upstream said one', () => {
  it('every account rate-limited: 429 accounts_rate_limited with the soonest reset; the next request is refused at planning, with the same wait', async () => {
    const t = await start({ script: { a: replies.rateLimited(90), b: replies.rateLimited(30) } });
    const res = await generate(t);
    expect(res.statusCode).toBe(429);
    expect(res.json().error).toMatchObject({ type: 'rate_limit_error', code: 'accounts_rate_limited', param: null });
    expect(res.json().error.message).toMatch(/^all eligible codex image accounts failed for this request \(2 rate_limited\)$/);
    expect([res.headers['retry-after'], res.headers['retry-after-ms']]).toEqual(['30', '30000']);
    expect(t.upstream.calls).toEqual(['a', 'b']);
    const lines = await t.logOf(res);
    expect(lines.at(-1)).toMatchObject({ event: 'exhausted', upstream_status: 429, failover_count: 2 });
    expect(t.slotsHeld()).toBe(0);

    const again = await generate(t);
    expect(again.statusCode).toBe(429);
    expect(again.json().error.code).toBe('accounts_rate_limited');
    expect([again.headers['retry-after'], again.headers['retry-after-ms']]).toEqual(['30', '30000']);
    expect(t.upstream.calls).toEqual(['a', 'b']); // nothing more was sent
    expect(t.slotsHeld()).toBe(0);
    // Refused at planning, it is still the key's request: logged, and counted as a rate-limited
    // failure under no account, like the first one (no account's answer ended either).
    expect(await t.logOf(again)).toEqual([
      expect.objectContaining({ event: 'exhausted', account_name: null, failover_count: 0, error_class: 'accounts_rate_limited' }),
    ]);
    expect((await t.flushRollups()).map((r) => [r.accountId, r.requests, r.successes, r.failuresRateLimited])).toEqual([[null, 2, 0, 2]]);
  });

  it.each<[string, ScriptedReply, number, string]>([
    ['5xx', replies.status(503), 502, 'account_pool_exhausted'],
    ['timeouts', replies.attemptTimeout(), 504, 'upstream_timeout'],
    ['401s', replies.unauthorized(), 503, 'no_usable_accounts'],
  ])('every account failing with %s: %s %s, every slot released', async (_name, reply, status, code) => {
    const t = await start({ script: { a: reply, b: reply } });
    const res = await generate(t);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({
      error: { message: expect.stringMatching(/^all eligible codex image accounts failed/), type: 'server_error', param: null, code },
    });
    expect(t.upstream.calls).toEqual(['a', 'b']);
    await t.logOf(res);
    expect(t.slotsHeld()).toBe(0);
  });

  it('a 502/504 exhaustion carries no retry-after: nobody knows when the accounts recover', async () => {
    const t = await start({ script: { a: replies.status(500), b: replies.status(500) } });
    const res = await generate(t);
    expect(res.statusCode).toBe(502);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.headers['x-should-retry']).toBeUndefined();
  });
});

describe('slots on the way out', () => {
  it('a client that hangs up mid-call: the call is cancelled, no other account is tried, the key and account slots come back', async () => {
    const t = await start({ script: { a: [replies.hang(), replies.ok()] }, key: { maxConcurrency: 1 } });
    const first = generate(t);
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    expect(t.slotsHeld()).toBe(2); // the key's and a's

    const refused = await generate(t);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('key_rate_limited');
    expect(refused.headers['retry-after']).toBe('1');

    t.responses[0]!.destroy(); // the client's socket closes
    await expect(first).rejects.toThrow();
    const aborted = await waitFor('the abort log line', () => t.log.find((e) => e.event === 'client_aborted'));
    expect(aborted).toMatchObject({ upstream_status: 499, error_class: 'client_aborted' });
    expect(t.upstream.calls).toEqual(['a']);
    expect(t.slotsHeld()).toBe(0);
    expect(t.health.list()).toEqual([]);

    const next = await generate(t);
    expect(next.statusCode).toBe(200);
  });

  it('every account at its cap, no wait: 429 accounts_busy with retry-after, and the request held no slot', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const t = await start({
      accounts: ['a'],
      account: { imageConcurrency: 1 },
      script: { a: [replies.held(held), replies.ok()] },
      env: { ADMISSION_WAIT_MS: '0' },
    });
    const first = generate(t);
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    const busy = await generate(t);
    expect(busy.statusCode).toBe(429);
    expect(busy.json().error).toMatchObject({ code: 'accounts_busy', type: 'rate_limit_error' });
    expect(busy.headers['retry-after']).toBe('1');
    expect(t.slotsHeld()).toBe(2); // only the first request's key and account slots
    release();
    expect((await first).statusCode).toBe(200);
    await waitFor('every slot released', () => t.slotsHeld() === 0);
  });
});

describe('n > 1 fanned out into one-image calls', () => {
  it('some parts failing: 200 with the images produced, and headers saying how many were asked for and made', async () => {
    const t = await start({ accounts: ['a'], script: { a: [replies.ok(), replies.status(502), replies.ok()] } });
    const res = await generate(t, { n: 3 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-gateway-images-requested']).toBe('3');
    expect(res.headers['x-gateway-images-produced']).toBe('2');
    const body = res.json();
    expect(body.data).toEqual([{ b64_json: IMAGE_B64 }, { b64_json: IMAGE_B64 }]);
    expect(body.usage).toEqual({ input_tokens: 2, output_tokens: 4, total_tokens: 6 });
    expect(t.upstream.calls).toEqual(['a', 'a', 'a']);
    const lines = await t.logOf(res);
    // One line per upstream answer; the part that failed adds its exhaustion line.
    expect(lines.map((l) => [l.event, l.upstream_status])).toEqual(
      expect.arrayContaining([
        ['attempt', 502],
        ['exhausted', 502],
      ]),
    );
    expect(lines.filter((l) => l.event === 'attempt' && l.upstream_status === 200)).toHaveLength(2);
    expect(new Set(lines.map((l) => l.part))).toEqual(new Set([0, 1, 2]));
    expect(t.slotsHeld()).toBe(0);
  });

  it('a failing part fails over like a plain request: every image arrives', async () => {
    const t = await start({ script: { a: [replies.status(500), replies.ok()] } });
    const res = await generate(t, { n: 2 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-gateway-images-produced']).toBe('2');
    expect(t.upstream.calls.filter((c) => c === 'b').length).toBeGreaterThanOrEqual(1);
    await t.logOf(res);
    expect(t.slotsHeld()).toBe(0);
  });

  it('every part failing: the exhaustion error, as for n: 1', async () => {
    const t = await start({ script: { a: replies.status(502), b: replies.status(502) } });
    const res = await generate(t, { n: 2 });
    expect(res.statusCode).toBe(502);
    expect(res.json().error.code).toBe('account_pool_exhausted');
    expect(res.headers['x-gateway-images-produced']).toBeUndefined();
    await t.logOf(res);
    expect(t.slotsHeld()).toBe(0);
  });
});

describe('stream: true', () => {
  it('failover before the first image byte is invisible: one completed event from the account that answered', async () => {
    const t = await start({ script: { a: replies.status(503) } });
    const res = await generate(t, { stream: true });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const { events } = parseSse(res.body);
    expect(events.map((e) => e.event)).toEqual(['image_generation.completed']);
    expect(events[0]!.data).toMatchObject({ type: 'image_generation.completed', b64_json: IMAGE_B64 });
    expect(t.upstream.calls).toEqual(['a', 'b']);
    await t.logOf(res);
    expect(t.slotsHeld()).toBe(0);
  });

  it('every account failing once the stream has started: the exhaustion error as `event: error`, every slot released', async () => {
    const t = await start({ script: { a: replies.rateLimited(45), b: replies.rateLimited(45) } });
    const res = await generate(t, { stream: true });
    expect(res.statusCode).toBe(200); // the headers went out when a's slot was taken
    const { events } = parseSse(res.body);
    expect(events).toEqual([
      { event: 'error', data: { error: expect.objectContaining({ type: 'rate_limit_error', code: 'accounts_rate_limited', param: null }) } },
    ]);
    const lines = await t.logOf(res);
    expect(lines.at(-1)).toMatchObject({ event: 'exhausted', upstream_status: 429, stream: true });
    expect(t.slotsHeld()).toBe(0);
  });

  it('every account busy before any slot was held, no wait: a plain JSON 429, not a stream', async () => {
    const t = await start({ accounts: ['a'], account: { imageConcurrency: 1 }, script: { a: replies.hang() }, env: { ADMISSION_WAIT_MS: '0' } });
    const first = generate(t);
    await waitFor('the first call', () => t.upstream.calls.length === 1);
    const busy = await generate(t, { stream: true });
    expect(busy.statusCode).toBe(429);
    expect(busy.headers['content-type']).toMatch(/^application\/json/);
    expect(busy.json().error.code).toBe('accounts_busy');
    t.responses[0]!.destroy();
    await expect(first).rejects.toThrow();
    await waitFor('every slot released', () => t.slotsHeld() === 0);
  });
});
