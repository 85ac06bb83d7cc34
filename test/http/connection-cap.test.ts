import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createGatewayMetrics } from '../../src/observe/gateway-metrics.js';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { makeSnapshot } from '../support/snapshot-fixtures.js';
import { waitFor } from '../support/wait-for.js';

/** A raw client socket that collects everything the server sends until it closes. */
interface RawClient {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

async function openRaw(port: number): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    data += chunk;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed };
}

/** Sends a keep-alive GET /healthz and waits for its answer on the same socket. */
async function healthzOn(client: RawClient): Promise<string> {
  const before = client.received().length;
  client.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
  await waitFor('healthz answer', () => client.received().slice(before).endsWith('ok'));
  return client.received().slice(before);
}

let app: FastifyInstance | null = null;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  await app?.close();
  app = null;
});

const metrics = createGatewayMetrics();

async function listen(env: Record<string, string>): Promise<number> {
  const snapshot = makeSnapshot([], []);
  app = await buildTestGatewayApp(() => snapshot, { env, overrides: { metrics } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

describe('MAX_CONNECTIONS', () => {
  it('answers a connection past the cap with an OpenAI-shaped 503 and closes it, leaving open ones untouched', async () => {
    const port = await listen({ MAX_CONNECTIONS: '2' });
    const a = await openRaw(port);
    const b = await openRaw(port);
    clients.push(a, b);
    expect(await healthzOn(a)).toMatch(/^HTTP\/1\.1 200/);

    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('retry-after-ms')).toBe('1000');
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({
      error: {
        message: 'this gateway process already holds 2 open connections (MAX_CONNECTIONS); retry the request',
        type: 'server_error',
        param: null,
        code: 'too_many_connections',
      },
    });

    // The connections held before the refusal still serve, kept alive.
    expect(await healthzOn(b)).toMatch(/^HTTP\/1\.1 200/);
    expect(await healthzOn(a)).toMatch(/^HTTP\/1\.1 200/);

    // Once one closes, a new connection is admitted.
    a.socket.destroy();
    await a.closed;
    await waitFor(
      'a connection admitted after one closed',
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } })).status === 200,
    );
  });

  it('never lets a request sent on a refused connection reach a route', async () => {
    const port = await listen({ MAX_CONNECTIONS: '1' });
    const held = await openRaw(port);
    clients.push(held);
    const refused = await openRaw(port);
    clients.push(refused);
    // Unauthenticated: a route would answer 401. The refused socket only ever carries its 503.
    refused.socket.write('POST /v1/images/generations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
    await refused.closed;
    // Had the route seen it, its 401 would be counted.
    expect((await metrics.render()).body).not.toMatch(/status="401"/);
    const text = refused.received();
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(text).toContain('"code":"too_many_connections"');
    expect(await healthzOn(held)).toMatch(/^HTTP\/1\.1 200/);
    // The same request on an admitted connection does reach the route (and is counted).
    held.socket.write('POST /v1/images/generations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
    await waitFor('the 401 counted', async () => /status="401"/.test((await metrics.render()).body));
  });

  it('caps nothing by default (0)', async () => {
    const port = await listen({});
    for (let i = 0; i < 20; i += 1) clients.push(await openRaw(port));
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});
