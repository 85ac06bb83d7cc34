import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
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

async function listen(env: Record<string, string>): Promise<string> {
  const snapshot = makeSnapshot([makeKey({ hash: createHash('sha256').update(SECRET).digest('hex') })], []);
  app = await buildTestGatewayApp(() => snapshot, { env });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

/** Starts a JSON edit whose body is declared but not sent yet (so it is being read); returns what the socket receives. */
async function startStalledBody(base: string, declared: number, headers = ''): Promise<{ socket: Socket; received: () => string }> {
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
    `POST /v1/images/edits HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${SECRET}\r\ncontent-type: application/json\r\n` +
      (headers ? `${headers}\r\n` : `content-length: ${declared}\r\n\r\n{"prompt":`),
  );
  return { socket, received: () => data };
}

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

  it('charges a chunked body the largest body its type allows', async () => {
    const base = await listen({ MAX_BODY_BYTES_IN_FLIGHT: String(3 * MiB), MAX_JSON_BODY_BYTES: String(2 * MiB) });
    await startStalledBody(base, 0, 'transfer-encoding: chunked\r\n');
    await waitFor('the chunked body charged', async () => (await post(base, 2 * MiB)).status === 503);
    expect((await post(base, MiB / 2)).status).toBe(400);
  });

  it('admits everything by default within the 256 MiB budget', async () => {
    const base = await listen({});
    await startStalledBody(base, 40 * MiB);
    await startStalledBody(base, 40 * MiB);
    expect((await post(base, 2 * MiB)).status).toBe(400);
  });
});
