import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, type ErrorCode } from './codes.js';
import { toOpenAIError } from './openai-shape.js';

/** Node's HTTP parser errors that have their own answer; every other parser error is a malformed request (400). */
const PARSER_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  HPE_HEADER_OVERFLOW: { code: 'request_headers_too_large', message: 'request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', message: 'the request was not received in time' },
};

const MALFORMED = { code: 'invalid_request', message: 'malformed HTTP request' } as const;

/** The raw bytes of an OpenAI-shaped error response that closes the connection (no request object exists to answer through). */
export function rawErrorResponse(err: GatewayError): string {
  const { status, body, headers } = toOpenAIError(err);
  const json = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(json)}`,
    'connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${json}`;
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused (headers too large, a
 * Transfer-Encoding + Content-Length conflict, bare LF, a header timeout) is answered in the OpenAI
 * shape when nothing was written on the socket yet, then the socket is closed. Never logs the raw packet.
 */
export function handleClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const mapped = PARSER_ERRORS[err.code ?? ''] ?? MALFORMED;
  const written = (socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0;
  if (socket.writable && written === 0) {
    socket.end(rawErrorResponse(new GatewayError(mapped.code, mapped.message)));
    socket.once('finish', () => socket.destroy());
    return;
  }
  socket.destroy();
}

/** The server's `checkExpectation` listener: any `Expect` other than `100-continue` gets a 417 in the OpenAI shape. */
export function answerFailedExpectation(_req: IncomingMessage, res: ServerResponse): void {
  const { status, body, headers } = toOpenAIError(new GatewayError('expectation_failed', 'only "Expect: 100-continue" is supported', 'expect'));
  const json = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), connection: 'close' });
  res.end(json);
}

/** How long a socket whose body was abandoned may stay half-closed after its answer, so the client can read it. */
const ABANDONED_SOCKET_LINGER_MS = 1_000;

/**
 * For an error handler: an answer that leaves part of the request body unread (a 413 mid-upload,
 * a 400 on a bad part, a 401 before the body) closes the connection. Kept alive, the socket would
 * sit waiting for bytes nobody reads, and hold up a graceful shutdown. Node ends the socket after
 * a `connection: close` answer; the timer destroys it if the client keeps its side open. A request
 * whose body was read whole keeps its connection.
 */
export function closeIfBodyAbandoned(req: FastifyRequest, reply: FastifyReply): void {
  if (req.raw.complete) return;
  reply.header('connection', 'close');
  // Destroying the request destroys the socket it arrived on (and nothing else: the connection
  // carries no later request after `connection: close`).
  reply.raw.once('finish', () => setTimeout(() => req.raw.destroy(), ABANDONED_SOCKET_LINGER_MS).unref());
}
