import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { PARSER_REFUSALS, sendRaw } from '../support/raw-http.js';

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

describe('requests the HTTP parser refuses', () => {
  for (const c of PARSER_REFUSALS) {
    it(`${c.name}: ${c.status} in the OpenAI shape, connection closed`, async () => {
      const answer = await sendRaw(h.gatewayUrl, c.raw);
      expect(answer.status).toBe(c.status);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: c.param, code: c.code } });
    });
  }

  it('HEAD on an image path: 405 with Allow and the JSON headers (a HEAD answer has no body)', async () => {
    const answer = await sendRaw(h.gatewayUrl, 'HEAD /v1/images/generations HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toContain('POST');
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body).toBe('');
  });
});
