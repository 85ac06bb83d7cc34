import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { closeWithGrace, watchConnections } from '../../../src/runtime/graceful-close.js';
import { openRawSocket, parseRawAnswer } from '../../support/raw-http.js';
import { waitFor } from '../../support/wait-for.js';

/** Long enough that reaching it would time the test out: every close here must come from the drain itself. */
const GRACE_MS = 120_000;

let app: FastifyInstance | null = null;
afterEach(async () => {
  app?.server.closeAllConnections();
  await app?.close();
  app = null;
});

/** A real server with a route that answers only when told to. */
async function startServer(): Promise<{ url: string; release: () => void; started: () => number }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started = 0;
  app = Fastify();
  app.get('/slow', async () => {
    started += 1;
    await gate;
    return { done: true };
  });
  app.get('/fast', async () => ({ done: true }));
  watchConnections(app.server);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, release, started: () => started };
}

/** A socket with `raw` written on it: what it has received so far, and all of it once the server closes it. */
async function rawConnection(url: string, raw: string): Promise<{ socket: Socket; received: () => string; closed: Promise<string> }> {
  const socket = await openRawSocket(url);
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString('utf8');
  });
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  socket.write(raw);
  return { socket, received: () => received, closed };
}

describe('closeWithGrace on a watched server', () => {
  it('ends idle and half-sent connections at once, and waits for a request in flight to be answered', async () => {
    const server = await startServer();
    const idle = await rawConnection(server.url, 'GET /fast HTTP/1.1\r\nHost: a\r\n\r\n');
    const halfSent = await rawConnection(server.url, 'GET /fast HTTP/1.1\r\nHost: a\r\nX-Slow: ');
    const working = await rawConnection(server.url, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    await waitFor('the slow request to reach its route', () => server.started() === 1);
    await waitFor("the idle connection's answer", () => idle.received().endsWith('{"done":true}'));

    let closed = false;
    const closing = closeWithGrace(app!, GRACE_MS).then(() => {
      closed = true;
    });
    expect(parseRawAnswer(await idle.closed).status).toBe(200);
    expect(await halfSent.closed).toBe(''); // closed without an answer: its request never began
    expect(working.socket.destroyed).toBe(false);
    expect(closed).toBe(false);

    server.release();
    const answer = parseRawAnswer(await working.closed);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('{"done":true}');
    await closing;
  });
});
