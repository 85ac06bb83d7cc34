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
