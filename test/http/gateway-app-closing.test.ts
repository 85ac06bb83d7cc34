import { describe, expect, it } from 'vitest';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { makeSnapshot } from '../support/snapshot-fixtures.js';

describe('gateway app while closing', () => {
  it('answers requests that arrive during the drain with an OpenAI-shaped 503 shutting_down', async () => {
    const snapshot = makeSnapshot([], []);
    const app = await buildTestGatewayApp(() => snapshot);
    // A request that arrives once closing has begun (the server is still accepting at preClose).
    let res: Response | null = null;
    app.addHook('preClose', async () => {
      const { port } = app.server.address() as { port: number };
      res = await fetch(`http://127.0.0.1:${port}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    await app.close();
    if (!res) throw new Error('no response during close');
    const answered = res as Response;
    expect(answered.status).toBe(503);
    expect(await answered.json()).toEqual({
      error: { message: 'the gateway is shutting down; retry the request', type: 'server_error', param: null, code: 'shutting_down' },
    });
    expect(answered.headers.get('x-request-id')).toMatch(/^req_/);
    // A draining process cannot say when another will answer: the short default wait.
    expect(answered.headers.get('retry-after')).toBe('1');
    expect(answered.headers.get('retry-after-ms')).toBe('1000');
  });
});
