import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';

let h: GatewayHarness;

beforeAll(async () => {
  h = await startGatewayHarness();
});
afterAll(async () => h?.stop());

describe('query strings in the app log', () => {
  it('a token sent in a query string never reaches the app log, on either listener', async () => {
    const canary = 'secret-QUERY-CANARY-8d1f';
    const urls = [
      `${h.gatewayUrl}/status?token=${canary}`,
      `${h.gatewayUrl}/v1/images/generations?token=${canary}`,
      `${h.gatewayUrl}/no/such/path?token=${canary}`,
      `${h.adminUrl}/admin/api/keys?token=${canary}`,
      `${h.adminUrl}/admin/api/no-such-route?token=${canary}`,
      `${h.adminUrl}/admin/session?token=${canary}`,
    ];
    for (const url of urls) {
      const res = await fetch(url);
      await res.arrayBuffer();
      expect(res.status, url).toBeGreaterThanOrEqual(400);
    }
    const log = await h.readAppLog();
    // The admin app logs its requests: the path is kept, the query string is not.
    expect(log).toContain('/admin/api/keys');
    expect(log).not.toContain(canary);
    expect(log).not.toContain('token=');
  });
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `raw` on a fresh socket and reads until the server closes it (every answer here must close). */
function sendRaw(raw: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(h.gatewayUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

describe('requests the HTTP parser refuses', () => {
  const cases = [
    { name: 'headers too large', raw: `GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'request_headers_too_large' },
    {
      name: 'Transfer-Encoding and Content-Length together',
      raw: 'POST /v1/images/generations HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
      status: 400,
      code: 'invalid_request',
    },
    { name: 'bare LF line endings', raw: 'GET /healthz HTTP/1.1\nHost: a\n\n', status: 400, code: 'invalid_request' },
    { name: 'an Expect other than 100-continue', raw: 'GET /healthz HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n', status: 417, code: 'expectation_failed' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.status} in the OpenAI shape, connection closed`, async () => {
      const answer = await sendRaw(c.raw);
      expect(answer.status).toBe(c.status);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: c.code === 'expectation_failed' ? 'expect' : null, code: c.code } });
    });
  }

  it('HEAD on an image path: 405 with Allow and the JSON headers (a HEAD answer has no body)', async () => {
    const answer = await sendRaw('HEAD /v1/images/generations HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toContain('POST');
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body).toBe('');
  });
});
