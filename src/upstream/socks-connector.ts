import { lookup } from 'node:dns/promises';
import type { Socket } from 'node:net';
import { SocksClient, type SocksProxy } from 'socks';
import { buildConnector } from 'undici';
import { UPSTREAM_ERROR_CODES, UpstreamFailureError } from './upstream-failures.js';

/** The port a SOCKS proxy URL means when it names none. */
const DEFAULT_SOCKS_PORT = 1080;

/** TCP keep-alive probe delay on tunnelled sockets (30 s, as the original client). */
const TCP_KEEPALIVE_INITIAL_DELAY_MS = 30_000;

/** The `socks` library's message for a handshake that ran past its timeout. */
const SOCKS_TIMEOUT_MESSAGE = 'Proxy connection timed out';

export interface SocksConnectorOptions {
  /** A socks5:/socks5h: URL, credentials optional. */
  proxy: URL;
  /** True for socks5h (the proxy resolves the target name), false for socks5 (resolved here). */
  remoteDns: boolean;
  /** Limit for the SOCKS handshake and, for https targets, the TLS handshake. */
  connectTimeoutMs: number;
}

const stripBrackets = (host: string): string => host.replace(/^\[(.*)\]$/, '$1');

function buildSocksProxy(url: URL): SocksProxy {
  const userId = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return { host: stripBrackets(url.hostname), port: Number(url.port) || DEFAULT_SOCKS_PORT, type: 5, userId, password };
}

/**
 * The `socks` library's errors carry the proxy options (password included) as an enumerable property,
 * so they must never reach a logger: replace them with an error that has only a stable code and message.
 */
function toSocksFailure(err: unknown): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  if (!('options' in err)) return err;
  const message = err.message;
  const code = message === SOCKS_TIMEOUT_MESSAGE ? UPSTREAM_ERROR_CODES.socksTimeout : UPSTREAM_ERROR_CODES.socksProxy;
  return new UpstreamFailureError(code, `socks proxy: ${message}`);
}

async function openTunnel(proxy: SocksProxy, target: buildConnector.Options, opts: SocksConnectorOptions): Promise<Socket> {
  const host = stripBrackets(target.hostname);
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  const destinationHost = opts.remoteDns ? host : (await lookup(host)).address;
  const { socket } = await SocksClient.createConnection({
    proxy,
    command: 'connect',
    destination: { host: destinationHost, port },
    timeout: opts.connectTimeoutMs,
  });
  socket.setKeepAlive(true, TCP_KEEPALIVE_INITIAL_DELAY_MS);
  return socket;
}

/**
 * Builds an undici connector that reaches each origin through a SOCKS5 tunnel, then (for https
 * origins) runs TLS over the tunnel with undici's own connector, so certificate checks and session
 * reuse behave as on a direct connection. Used as `new Agent({ connect })`.
 */
export function buildSocksConnector(opts: SocksConnectorOptions): buildConnector.connector {
  const proxy = buildSocksProxy(opts.proxy);
  const tlsConnect = buildConnector({ timeout: opts.connectTimeoutMs });
  return (target, callback) => {
    openTunnel(proxy, target, opts).then(
      (socket) => {
        if (target.protocol === 'https:') tlsConnect({ ...target, httpSocket: socket }, callback);
        else callback(null, socket);
      },
      (err: unknown) => callback(toSocksFailure(err), null),
    );
  };
}
