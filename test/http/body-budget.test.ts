import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { BodyBudget } from '../../src/limits/body-budget.js';
import { makeKey, makeSnapshot } from '../support/snapshot-fixtures.js';
import { waitFor } from '../support/wait-for.js';

const SECRET = 'cig_body_budget_test_secret';
const MiB = 1024 * 1024;

let app: FastifyInstance | null = null;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = null;
});

async function listen(env: Record<string, string>, bodyBudget?: BodyBudget): Promise<string> {
  const snapshot = makeSnapshot([makeKey({ hash: createHash('sha256').update(SECRET).digest('hex') })], []);
  app = await buildTestGatewayApp(() => snapshot, { env, overrides: bodyBudget ? { bodyBudget } : {} });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

/** Starts an edit whose body is declared but not sent yet (so it is being read); returns what the socket receives. */
async function startStalledBody(
  base: string,
  declared: number,
  headers = '',
  contentType = 'content-type: application/json',
): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect(Number(new URL(base).port), '127.0.0.1');
  sockets.push(socket);
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    data += chunk;
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST /v1/images/edits HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${SECRET}\r\n${contentType}\r\n` +
      (headers ? `${headers}\r\n` : `content-length: ${declared}\r\n\r\n{"prompt":`),
  );
  return { socket, received: () => data };
}

/** Sends one chunk of a chunked body. */
const sendChunk = (socket: Socket, text: string) => socket.write(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);

/** A complete JSON edit of `size` bytes (an invalid one: past admission it gets a 400, not a 503). */
const post = (base: string, size: number) =>
  fetch(`${base}/v1/images/edits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: `{"prompt":"${'a'.repeat(size - 14)}"`,
  });

describe('MAX_BODY_BYTES_IN_FLIGHT', () => {
  it('refuses bodies past the budget with a 503 before reading them, admits one within, and frees the bytes when a body ends', async () => {
    const base = await listen({ MAX_BODY_BYTES_IN_FLIGHT: String(3 * MiB) });
    const first = await startStalledBody(base, 2 * MiB);
    // Admitted: the gate passed and the body is being read (nothing answered yet); the next big one does not fit.
    await waitFor('the first body charged', async () => (await post(base, 2 * MiB)).status === 503);

    const refused = await post(base, 2 * MiB);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('retry-after-ms')).toBe('1000');
    expect(refused.headers.get('connection')).toBe('close');
    expect(await refused.json()).toEqual({
      error: {
        message: 'the gateway is reading too many request bodies at once (MAX_BODY_BYTES_IN_FLIGHT); retry the request',
        type: 'server_error',
        param: null,
        code: 'body_budget_exhausted',
      },
    });
    // Concurrent large bodies: every one refused while the budget is held.
    const burst = await Promise.all(Array.from({ length: 4 }, () => post(base, 2 * MiB)));
    expect(burst.map((r) => r.status)).toEqual([503, 503, 503, 503]);

    // One within what is left passes admission (and gets its own answer: the body is not a valid request).
    const within = await post(base, MiB / 2);
    expect(within.status).toBe(400);
    expect(first.received()).toBe('');

    // The stalled body goes away: its bytes are released and a big body is admitted again.
    first.socket.destroy();
    await waitFor('the budget released', async () => (await post(base, 2 * MiB)).status === 400);
  });

  it('charges a chunked body as its bytes arrive', async () => {
    const budget = new BodyBudget(3 * MiB);
    const base = await listen({}, budget);
    const chunked = await startStalledBody(base, 0, 'transfer-encoding: chunked\r\n');
    // Nothing arrived yet, so nothing is charged: a 2 MiB body passes admission (its own answer is a 400).
    expect((await post(base, 2 * MiB)).status).toBe(400);
    await waitFor('the 2 MiB body released', () => budget.inUse === 0);
    // Watched on the budget itself: a probing request in between would hold bytes the chunked body needs.
    const chunk = `{"prompt":"${'a'.repeat(2 * MiB)}`;
    sendChunk(chunked.socket, chunk);
    await waitFor('the chunked bytes charged', () => budget.inUse === Buffer.byteLength(chunk));
    expect((await post(base, 2 * MiB)).status).toBe(503);
    expect((await post(base, MiB / 2)).status).toBe(400);
    expect(chunked.received()).toBe('');
  });

  it.each([
    ['JSON', 'content-type: application/json', `{"prompt":"${'a'.repeat(MiB)}`],
    [
      'multipart',
      'content-type: multipart/form-data; boundary=b',
      `--b\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\ncontent-type: image/webp\r\n\r\nRIFFaaaaWEBP${'a'.repeat(MiB)}`,
    ],
  ])('refuses a chunked %s body with a 503 and closes its connection once the budget cannot take more of it', async (_kind, type, firstMiB) => {
    const base = await listen({ MAX_BODY_BYTES_IN_FLIGHT: String(3 * MiB) });
    const held = await startStalledBody(base, 2 * MiB);
    await waitFor('the declared body charged', async () => (await post(base, 2 * MiB)).status === 503);
    const chunked = await startStalledBody(base, 0, 'transfer-encoding: chunked\r\n', type);
    sendChunk(chunked.socket, firstMiB.slice(0, MiB / 2));
    sendChunk(chunked.socket, firstMiB.slice(MiB / 2));
    await waitFor('the chunked body refused', async () => chunked.received().includes('\r\n\r\n{'));
    const [head, body] = chunked.received().split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head!.toLowerCase()).toContain('connection: close');
    expect(head!.toLowerCase()).toContain('retry-after: 1');
    expect(JSON.parse(body!)).toMatchObject({ error: { code: 'body_budget_exhausted', type: 'server_error' } });
    await waitFor('the connection closed', async () => chunked.socket.readableEnded || chunked.socket.destroyed);
    expect(held.received()).toBe('');
    // What the refused body had been charged is given back.
    held.socket.destroy();
    await waitFor('the budget released', async () => (await post(base, 2 * MiB)).status === 400);
  });

  it('admits everything by default within the 256 MiB budget', async () => {
    const base = await listen({});
    await startStalledBody(base, 40 * MiB);
    await startStalledBody(base, 40 * MiB);
    expect((await post(base, 2 * MiB)).status).toBe(400);
  });
});
