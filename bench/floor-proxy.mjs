/**
 * The floors of bench section (l): the least a process between a client and the fake can do, run
 * like the gateway in its own process. Plain JavaScript, so that no loader or compiler adds to it.
 *   node bench/floor-proxy.mjs relay <upstream base URL>: a TCP relay, each client connection piped
 *     to a connection of its own to the upstream; no HTTP at all.
 *   node bench/floor-proxy.mjs http <upstream base URL>: an HTTP proxy on Node's own stack, the
 *     leanest one measured here (a node:http server, each request forwarded with node:http through
 *     a keep-alive agent without a connection cap, the answer piped back with its status, type and
 *     length); no authentication, validation, limits or bookkeeping.
 * Clients call the upstream's own paths on the printed port. Prints `{"port": N}` once listening.
 */
import { Agent, createServer, request } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';

const [mode, base] = process.argv.slice(2);
const upstream = new URL(base);
const port = Number(upstream.port);

function relay() {
  // No Nagle on either side, as Node's HTTP sockets: a request written in two pieces must not wait for an ACK.
  return createTcpServer({ noDelay: true }, (client) => {
    const up = connect({ port, host: upstream.hostname, noDelay: true });
    client.pipe(up);
    up.pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
}

function httpProxy() {
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  return createServer((req, res) => {
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const forwarded = request({ host: upstream.hostname, port, path: req.url, method: req.method, headers, agent }, (answer) => {
      const out = { 'content-type': answer.headers['content-type'] ?? 'application/json' };
      if (answer.headers['content-length']) out['content-length'] = answer.headers['content-length'];
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
}

if (mode !== 'relay' && mode !== 'http') throw new Error('usage: floor-proxy.mjs relay|http <upstream base URL>');
const server = mode === 'relay' ? relay() : httpProxy();
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
