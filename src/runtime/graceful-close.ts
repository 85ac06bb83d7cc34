import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** While draining, how often connections that went idle are closed (a kept-alive socket goes idle when its last answer ends). */
const DRAIN_IDLE_SWEEP_MS = 100;

/** A watched server's open connections, each with the number of its requests whose headers have arrived and whose answer has not ended. */
const watched = new WeakMap<Server, Map<Socket, number>>();

/**
 * Follows `server`'s connections from now on, so that `closeWithGrace` can tell real work from a
 * connection that carries none: idle, or still sending its request headers (Node counts such a
 * connection as busy, and would keep it until its header timeout). Call before the server listens.
 */
export function watchConnections(server: Server): void {
  const connections = new Map<Socket, number>();
  watched.set(server, connections);
  server.on('connection', (socket: Socket) => {
    connections.set(socket, 0);
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    connections.set(socket, (connections.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (connections.has(socket)) connections.set(socket, (connections.get(socket) ?? 1) - 1);
    });
  });
}

/** Ends every connection with no request being answered: idle ones, and ones whose headers are still arriving. */
function closeConnectionsWithoutWork(server: Server): void {
  server.closeIdleConnections();
  for (const [socket, serving] of watched.get(server) ?? []) if (serving === 0) socket.destroy();
}

/**
 * Closes the server, waiting for in-flight requests up to `graceMs`, then cuts what is left.
 * Connections without a request being answered are closed at once and again as in-flight answers
 * end, so the wait is for real work only, never for a client's keep-alive or a client that never
 * finishes its headers (that last only on a server given to `watchConnections`).
 */
export async function closeWithGrace(app: FastifyInstance, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      app.server.closeAllConnections();
      resolve();
    }, graceMs);
    timer.unref();
  });
  const closing = app.close();
  closeConnectionsWithoutWork(app.server);
  const sweep = setInterval(() => closeConnectionsWithoutWork(app.server), DRAIN_IDLE_SWEEP_MS);
  sweep.unref();
  try {
    await Promise.race([closing, deadline]);
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
}
