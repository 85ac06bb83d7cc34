import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcherPool, type DispatcherPoolOptions } from '../../../src/upstream/dispatcher-pool.js';
import { createUndiciUpstreamClient } from '../../../src/upstream/undici-upstream-client.js';
import { readUpstreamError } from '../../../src/upstream/upstream-error.js';
import { UPSTREAM_ERROR_CODES, isResponseTooLargeError, isTimeoutError, isTransportError } from '../../../src/upstream/upstream-failures.js';
import type { UpstreamClient } from '../../../src/upstream/types.js';
import { fakeBehaviors, startFakeCodexUpstream, type FakeCodexUpstream } from '../../support/fake-codex-upstream.js';
import { drain, jsonBody, rejectionOf, sampleUpstreamRequest, waitFor } from './upstream-test-kit.js';

/** The attempt was ended by the caller's own signal (the client's code for it, not a timeout). */
const isClientAbort = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === UPSTREAM_ERROR_CODES.clientAborted;

const ACCOUNT = 'acct-client';
const MiB = 1024 * 1024;
const never = new AbortController().signal;

let fake: FakeCodexUpstream;
const clients: UpstreamClient[] = [];

function makeClient(over: Partial<DispatcherPoolOptions & { attemptTimeoutMs: number; maxResponseBytes: number; baseUrl: string }> = {}): UpstreamClient {
  const pool = createDispatcherPool({
    connectTimeoutMs: over.connectTimeoutMs ?? 2000,
    headersTimeoutMs: over.headersTimeoutMs ?? 10_000,
    bodyTimeoutMs: over.bodyTimeoutMs ?? 10_000,
  });
  const client = createUndiciUpstreamClient({
    baseUrl: over.baseUrl ?? fake.baseUrl,
    pool,
    attemptTimeoutMs: over.attemptTimeoutMs ?? 20_000,
    maxResponseBytes: over.maxResponseBytes ?? 64 * MiB,
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  fake = await startFakeCodexUpstream();
});
afterEach(async () => {
  fake.reset();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await fake.close();
});

describe('createUndiciUpstreamClient: requests', () => {
  it('posts the body to the Codex path and returns status, headers, an unread body and ttfb', async () => {
    const req = sampleUpstreamRequest(ACCOUNT);
    const res = await makeClient().send(req, never);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.ttfbMs).toBeGreaterThanOrEqual(0);
    const json = JSON.parse((await drain(res.body)).bytes.toString()) as { data: { b64_json: string }[] };
    expect(json.data).toHaveLength(1);
    const seen = fake.requests[0];
    expect(seen?.path).toBe('/backend-api/codex/images/generations');
    expect(seen?.bodyBytes).toBe(req.body.contentLength);
    expect(seen?.body?.fields).toEqual({ prompt: 'a red fox in a field', model: 'gpt-image-2' });
  });

  it('sends edits to the edits path', async () => {
    const body = jsonBody({ prompt: 'add a hat', model: 'gpt-image-2', images: [{ image_url: 'data:image/png;base64,AAAA' }] });
    const res = await makeClient().send(sampleUpstreamRequest(ACCOUNT, { endpoint: 'edits', body }), never);
    await drain(res.body);
    expect(res.status).toBe(200);
    expect(fake.requests[0]?.path).toBe('/backend-api/codex/images/edits');
    expect(fake.requests[0]?.body?.images).toEqual([{ kind: 'data_url', mime: 'image/png', bytes: 3 }]);
  });

  it('puts only the Codex identity and allowlisted client headers on the wire', async () => {
    const req = sampleUpstreamRequest(ACCOUNT, {
      clientHeaders: {
        authorization: 'Bearer cig_client_key_123',
        cookie: 'session=abc',
        'x-stainless-os': 'Linux',
        'x-forwarded-for': '10.0.0.1',
        'user-agent': 'curl/8',
        originator: 'evil',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    });
    await drain((await makeClient().send(req, never)).body);
    const headers = fake.requests[0]?.headers ?? {};
    expect(headers.authorization).toBe(`account:${ACCOUNT}`);
    expect(headers['user-agent']).toBe('codex_cli_rs/0.150.1');
    expect(headers.originator).toBe('codex_cli_rs');
    expect(headers.version).toBe('0.150.1');
    expect(headers['chatgpt-account-id']).toBe(ACCOUNT);
    expect(headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    for (const leaked of ['cookie', 'x-stainless-os', 'x-forwarded-for']) expect(headers).not.toHaveProperty(leaked);
    expect(JSON.stringify(headers)).not.toContain('cig_client_key_123');
  });

  it('streams a large body with backpressure (nothing piles up while the reader waits)', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.success({ imageBytes: 4 * MiB }));
    const res = await makeClient().send(sampleUpstreamRequest(ACCOUNT), never);
    await new Promise((r) => setTimeout(r, 200));
    expect(res.body.readableLength).toBeLessThan(512 * 1024);
    const { bytes, error } = await drain(res.body);
    expect(error).toBeNull();
    expect(bytes.length).toBe(Number(res.headers['content-length']));
    expect(bytes.length).toBeGreaterThan(5 * MiB);
  });

  it('returns error statuses with their bodies unread, for readUpstreamError', async () => {
    fake.setBehavior(ACCOUNT, [fakeBehaviors.rateLimited({ resetsInSeconds: 42 }), fakeBehaviors.detailError(403, 'Forbidden plan')]);
    const client = makeClient();
    const limited = await client.send(sampleUpstreamRequest(ACCOUNT), never);
    expect(limited.status).toBe(429);
    await expect(readUpstreamError(limited.body, limited.status)).resolves.toMatchObject({
      type: 'usage_limit_reached',
      resetsInSeconds: 42,
      planType: 'plus',
    });
    const forbidden = await client.send(sampleUpstreamRequest(ACCOUNT), never);
    expect(forbidden.status).toBe(403);
    await expect(readUpstreamError(forbidden.body, forbidden.status)).resolves.toMatchObject({ message: 'Forbidden plan' });
  });

  it('checks its options at construction', () => {
    const pool = createDispatcherPool({ connectTimeoutMs: 1, headersTimeoutMs: 1, bodyTimeoutMs: 1 });
    expect(() => createUndiciUpstreamClient({ baseUrl: fake.baseUrl, pool, attemptTimeoutMs: 0, maxResponseBytes: 1 })).toThrow(RangeError);
    expect(() => createUndiciUpstreamClient({ baseUrl: fake.baseUrl, pool, attemptTimeoutMs: 1, maxResponseBytes: -1 })).toThrow(RangeError);
    expect(() => createUndiciUpstreamClient({ baseUrl: 'ftp://x', pool, attemptTimeoutMs: 1, maxResponseBytes: 1 })).toThrow(/CODEX_UPSTREAM_BASE_URL/);
    return pool.close();
  });
});

describe('createUndiciUpstreamClient: timeouts and aborts', () => {
  it('a hanging upstream hits the headers timeout (a timeout, not a client abort)', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.hang());
    const err = await rejectionOf(makeClient({ headersTimeoutMs: 300 }).send(sampleUpstreamRequest(ACCOUNT), never));
    expect((err as { code?: string }).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect([isTimeoutError(err), isClientAbort(err), isTransportError(err)]).toEqual([true, false, false]);
  });

  it('a stalled body hits the body inactivity timeout while reading', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.stallBody(Infinity));
    const res = await makeClient({ bodyTimeoutMs: 300 }).send(sampleUpstreamRequest(ACCOUNT), never);
    expect(res.status).toBe(200);
    const { error } = await drain(res.body);
    expect((error as { code?: string }).code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(isTimeoutError(error)).toBe(true);
  });

  it('the whole-attempt timer ends a slow attempt before headers', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.slowHeaders(10_000));
    const startedAt = Date.now();
    const err = await rejectionOf(makeClient({ attemptTimeoutMs: 300 }).send(sampleUpstreamRequest(ACCOUNT), never));
    expect((err as { code?: string }).code).toBe(UPSTREAM_ERROR_CODES.attemptTimeout);
    expect([isTimeoutError(err), isClientAbort(err)]).toEqual([true, false]);
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });

  it('the whole-attempt timer also covers the body', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.stallBody(Infinity));
    const res = await makeClient({ attemptTimeoutMs: 400 }).send(sampleUpstreamRequest(ACCOUNT), never);
    const { error } = await drain(res.body);
    expect((error as { code?: string }).code).toBe(UPSTREAM_ERROR_CODES.attemptTimeout);
    expect(isClientAbort(error)).toBe(false);
  });

  it('the caller abort is a client abort, not a timeout, and the upstream sees the disconnect', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.hang());
    const controller = new AbortController();
    const pending = makeClient().send(sampleUpstreamRequest(ACCOUNT), controller.signal);
    await waitFor(() => fake.concurrency.current(ACCOUNT) === 1);
    controller.abort();
    const err = await rejectionOf(pending);
    expect((err as { code?: string }).code).toBe(UPSTREAM_ERROR_CODES.clientAborted);
    expect([isClientAbort(err), isTimeoutError(err), isTransportError(err)]).toEqual([true, false, false]);
    await waitFor(() => fake.concurrency.current(ACCOUNT) === 0);
  });

  it('a caller abort during the body is a client abort', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.stallBody(Infinity));
    const controller = new AbortController();
    const res = await makeClient().send(sampleUpstreamRequest(ACCOUNT), controller.signal);
    setTimeout(() => controller.abort(new Error('client went away')), 50);
    const { error } = await drain(res.body);
    expect(isClientAbort(error)).toBe(true);
  });

  it('a body nobody reads is ended by the attempt timer without an unhandled error, and its connection is freed', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.stallBody(Infinity));
    const res = await makeClient({ attemptTimeoutMs: 200 }).send(sampleUpstreamRequest(ACCOUNT), never);
    // No listener of any kind on the body: an 'error' event nobody handles would fail the run.
    await waitFor(() => res.body.destroyed);
    await waitFor(() => fake.concurrency.current(ACCOUNT) === 0);
  });

  it('a consumer that destroys the body before its end aborts the attempt: the upstream sees the disconnect', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.stallBody(Infinity));
    const res = await makeClient().send(sampleUpstreamRequest(ACCOUNT), never);
    expect(fake.concurrency.current(ACCOUNT)).toBe(1);
    res.body.destroy();
    await waitFor(() => fake.concurrency.current(ACCOUNT) === 0);
  });

  it('an already-aborted signal fails at once without reaching the upstream', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await rejectionOf(makeClient().send(sampleUpstreamRequest(ACCOUNT), controller.signal));
    expect(isClientAbort(err)).toBe(true);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('createUndiciUpstreamClient: size cap and transport failures', () => {
  it('refuses a response whose Content-Length passes the cap', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.success({ imageBytes: 2 * MiB }));
    const err = await rejectionOf(makeClient({ maxResponseBytes: MiB }).send(sampleUpstreamRequest(ACCOUNT), never));
    expect(isResponseTooLargeError(err)).toBe(true);
    expect((err as Error).message).toContain(String(MiB));
  });

  it('cuts a chunked response off once it passes the cap while streaming', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.success({ imageBytes: 2 * MiB, chunked: true }));
    const res = await makeClient({ maxResponseBytes: MiB }).send(sampleUpstreamRequest(ACCOUNT), never);
    expect(res.headers['content-length']).toBeUndefined();
    const { bytes, error } = await drain(res.body);
    expect((error as { code?: string }).code).toBe(UPSTREAM_ERROR_CODES.responseTooLarge);
    expect(bytes.length).toBeLessThanOrEqual(MiB);
  });

  it('a body exactly at the cap passes', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.success({ chunked: true }));
    const probe = await makeClient().send(sampleUpstreamRequest(ACCOUNT), never);
    const size = (await drain(probe.body)).bytes.length;
    fake.setBehavior(ACCOUNT, fakeBehaviors.success({ chunked: true }));
    const res = await makeClient({ maxResponseBytes: size }).send(sampleUpstreamRequest(ACCOUNT), never);
    expect((await drain(res.body)).error).toBeNull();
  });

  it('a connection reset is a transport error', async () => {
    fake.setBehavior(ACCOUNT, fakeBehaviors.reset());
    const err = await rejectionOf(makeClient().send(sampleUpstreamRequest(ACCOUNT), never));
    expect([isTransportError(err), isTimeoutError(err), isClientAbort(err)]).toEqual([true, false, false]);
  });

  it('an informational 1xx before the answer is passed over: the attempt settles with the answer', async () => {
    // The fake speaks only final answers; a raw server sends 103 Early Hints first, as a CDN may.
    const answer = JSON.stringify({ created: 1, data: [] });
    const server = createServer((socket) => {
      socket.once('data', () =>
        socket.end(
          `HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${answer.length}\r\nconnection: close\r\n\r\n${answer}`,
        ),
      );
    }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as { port: number };
      const res = await makeClient({ baseUrl: `http://127.0.0.1:${port}/backend-api/codex` }).send(sampleUpstreamRequest(ACCOUNT), never);
      expect(res.status).toBe(200);
      expect(JSON.parse(Buffer.concat(await res.body.toArray()).toString())).toEqual({ created: 1, data: [] });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a refused connection is a transport error', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    const client = makeClient({ baseUrl: `http://127.0.0.1:${port}/backend-api/codex` });
    const err = await rejectionOf(client.send(sampleUpstreamRequest(ACCOUNT), never));
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isTransportError(err)).toBe(true);
  });
});
