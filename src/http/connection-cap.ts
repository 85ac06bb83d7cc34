import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { rawErrorResponse } from '../errors/client-error.js';

/** How long a refused socket may stay half-closed so the client can read its 503 before it is destroyed. */
const REFUSED_SOCKET_LINGER_MS = 1_000;

/**
 * MAX_CONNECTIONS: a cap on the client connections this process holds open (0 = no cap), for
 * deployments without a reverse proxy in front. A connection past the cap is answered at once on
 * the raw socket with a 503 `too_many_connections` (OpenAI shape, `retry-after`, `connection: close`)
 * and closed; connections already open are never touched. Returns the `onRequest` hook that keeps
 * a request the parser still reads off a refused socket from ever reaching a route.
 */
export function installConnectionCap(server: Server, max: number): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const refused = new WeakSet<Socket>();
  let open = 0;
  if (max > 0) {
    server.on('connection', (socket: Socket) => {
      if (open >= max) {
        refused.add(socket);
        refuse(socket, max);
        return;
      }
      open += 1;
      socket.once('close', () => {
        open -= 1;
      });
    });
  }
  return async (req, reply) => {
    if (!refused.has(req.raw.socket)) return;
    // Its 503 is already on the wire: drop the request unseen and discard what it still sends.
    reply.hijack();
    req.raw.resume();
  };
}

function refuse(socket: Socket, max: number): void {
  const err = new GatewayError('too_many_connections', `this gateway process already holds ${max} open connections (MAX_CONNECTIONS); retry the request`);
  socket.end(rawErrorResponse(err));
  setTimeout(() => socket.destroy(), REFUSED_SOCKET_LINGER_MS).unref();
}
