/**
 * Tiny local proxies for the dispatcher tests: an HTTP CONNECT proxy and a SOCKS5 server (no auth or
 * user/password auth). Both only ever connect to 127.0.0.1 and record what they were asked for.
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface LocalProxy<T> {
  /** e.g. `http://127.0.0.1:PORT` or `socks5://127.0.0.1:PORT` (no credentials). */
  url: string;
  port: number;
  seen: T[];
  /** Client connections open on the proxy now (a kept-alive tunnel counts until either side closes it). */
  openConnections(): number;
  close(): Promise<void>;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost']);

function tunnel(client: Socket, port: number, onReady: (target: Socket) => void): void {
  const target = connect(port, '127.0.0.1', () => onReady(target));
  const destroyBoth = (): void => {
    client.destroy();
    target.destroy();
  };
  target.on('error', destroyBoth);
  client.on('error', destroyBoth);
  target.on('close', destroyBoth);
  client.on('close', destroyBoth);
}

async function listen(server: Server): Promise<{ port: number; openConnections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    openConnections: () => sockets.size,
    close: async () => {
      const closed = once(server, 'close');
      server.close();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

export interface ConnectRecord {
  target: string;
  proxyAuthorization: string | null;
}

/** An HTTP proxy that answers CONNECT by piping sockets; `requireAuth` is the expected `user:pass`. */
export async function startConnectProxy(opts: { requireAuth?: string } = {}): Promise<LocalProxy<ConnectRecord>> {
  const seen: ConnectRecord[] = [];
  const server = createHttpServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const auth = req.headers['proxy-authorization'] ?? null;
    seen.push({ target: req.url ?? '', proxyAuthorization: auth });
    const expected = opts.requireAuth ? `Basic ${Buffer.from(opts.requireAuth).toString('base64')}` : null;
    const [host, port] = (req.url ?? '').split(':');
    if (expected !== null && auth !== expected) return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
    if (!LOOPBACK_NAMES.has(host ?? '')) return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    tunnel(client, Number(port), (target) => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      target.write(head);
      target.pipe(client);
      client.pipe(target);
    });
  });
  const { port, openConnections, close } = await listen(server);
  return { url: `http://127.0.0.1:${port}`, port, seen, openConnections, close };
}

/** Reads exact byte counts from a socket during a handshake. */
function createByteReader(socket: Socket): { read(n: number): Promise<Buffer>; rest(): Buffer } {
  let buffered = Buffer.alloc(0);
  let waiting: { n: number; resolve: (b: Buffer) => void } | null = null;
  const flush = (): void => {
    if (!waiting || buffered.length < waiting.n) return;
    const out = buffered.subarray(0, waiting.n);
    buffered = buffered.subarray(waiting.n);
    const { resolve } = waiting;
    waiting = null;
    resolve(out);
  };
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    flush();
  };
  socket.on('data', onData);
  return {
    read: (n) =>
      new Promise((resolve) => {
        waiting = { n, resolve };
        flush();
      }),
    rest: () => {
      socket.off('data', onData);
      return buffered;
    },
  };
}

export interface SocksRecord {
  addressType: 'ipv4' | 'domain' | 'ipv6';
  host: string;
  port: number;
  user: string | null;
  password: string | null;
}

async function readSocksAuth(reader: ReturnType<typeof createByteReader>): Promise<{ user: string; password: string }> {
  const [, userLength = 0] = await reader.read(2);
  const user = (await reader.read(userLength)).toString();
  const [passwordLength = 0] = await reader.read(1);
  return { user, password: (await reader.read(passwordLength)).toString() };
}

async function readSocksTarget(reader: ReturnType<typeof createByteReader>): Promise<Omit<SocksRecord, 'user' | 'password'>> {
  const [, , , addressType] = await reader.read(4);
  let host: string;
  let kind: SocksRecord['addressType'];
  if (addressType === 1) {
    host = [...(await reader.read(4))].join('.');
    kind = 'ipv4';
  } else if (addressType === 3) {
    const [length = 0] = await reader.read(1);
    host = (await reader.read(length)).toString();
    kind = 'domain';
  } else {
    host = (await reader.read(16)).toString('hex');
    kind = 'ipv6';
  }
  return { addressType: kind, host, port: (await reader.read(2)).readUInt16BE(0) };
}

/** A SOCKS5 server; with `credentials` it demands user/password auth (RFC 1929). */
export async function startSocks5Proxy(opts: { credentials?: { user: string; password: string } } = {}): Promise<LocalProxy<SocksRecord>> {
  const seen: SocksRecord[] = [];
  const server = createNetServer((client) => {
    void (async () => {
      const reader = createByteReader(client);
      const [, methodCount = 0] = await reader.read(2);
      await reader.read(methodCount);
      let auth: { user: string; password: string } | null = null;
      if (opts.credentials) {
        client.write(Buffer.from([5, 2]));
        auth = await readSocksAuth(reader);
        const ok = auth.user === opts.credentials.user && auth.password === opts.credentials.password;
        client.write(Buffer.from([1, ok ? 0 : 1]));
        if (!ok) return void client.end();
      } else {
        client.write(Buffer.from([5, 0]));
      }
      const target = await readSocksTarget(reader);
      seen.push({ ...target, user: auth?.user ?? null, password: auth?.password ?? null });
      const allowed = target.addressType === 'ipv4' ? target.host === '127.0.0.1' : LOOPBACK_NAMES.has(target.host);
      if (!allowed) return void client.end(Buffer.from([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]));
      tunnel(client, target.port, (upstream) => {
        client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
        upstream.write(reader.rest());
        upstream.pipe(client);
        client.pipe(upstream);
      });
    })().catch(() => client.destroy());
  });
  const { port, openConnections, close } = await listen(server);
  return { url: `socks5://127.0.0.1:${port}`, port, seen, openConnections, close };
}
