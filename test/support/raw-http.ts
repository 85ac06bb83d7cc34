/** Raw HTTP over a plain socket, for requests no HTTP client would send (and for watching the connection). */
import { connect, type Socket } from 'node:net';

/** One answer as read off the wire. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits everything a socket received into its first answer (status line, headers, the rest as body). */
export function parseRawAnswer(text: string): RawAnswer {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/** Opens a socket to `baseUrl`'s host and port. */
export function openRawSocket(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends on `socket` until it closes the connection. */
export function readUntilClosed(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Writes `raw` on a fresh socket and reads until the server closes it (every answer sent this way must close). */
export async function sendRaw(baseUrl: string, raw: string): Promise<RawAnswer> {
  const socket = await openRawSocket(baseUrl);
  const text = readUntilClosed(socket);
  socket.write(raw);
  return parseRawAnswer(await text);
}

/** Requests Node's HTTP parser refuses (or answers itself), with what each must get, on any listener. */
export const PARSER_REFUSALS = [
  {
    name: 'headers too large',
    raw: `GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
    code: 'request_headers_too_large',
    param: null,
  },
  {
    name: 'Transfer-Encoding and Content-Length together',
    raw: 'POST /v1/images/generations HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
    status: 400,
    code: 'invalid_request',
    param: null,
  },
  { name: 'bare LF line endings', raw: 'GET /healthz HTTP/1.1\nHost: a\n\n', status: 400, code: 'invalid_request', param: null },
  {
    name: 'an Expect other than 100-continue',
    raw: 'GET /healthz HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n',
    status: 417,
    code: 'expectation_failed',
    param: 'expect',
  },
] as const;
