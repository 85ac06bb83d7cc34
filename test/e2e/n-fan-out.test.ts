import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;

/** Two accounts capped at 2 images each; cooldowns off so a failing account is retried, not paused. */
beforeAll(async () => {
  h = await startGatewayHarness({ env: { RATE_LIMIT_COOLDOWN_CAP_MS: '0', FAILURE_BACKOFF_BASE_MS: '0' } });
  await h.importAccount('fan-a', { imageConcurrency: 2 });
  await h.importAccount('fan-b', { imageConcurrency: 2 });
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const newKey = () => h.createKey({ routing: { mode: 'accounts', accounts: ['fan-a', 'fan-b'] } });

async function generate(secret: string, body: Record<string, unknown>) {
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { res, json: (await res.json()) as { data?: Array<{ b64_json?: string }>; usage?: Record<string, unknown>; error?: { code: string } } };
}

const usageOf = (keyId: string, requests: number) =>
  waitFor(`usage of ${requests} request(s)`, async () => {
    const key = await h.admin.keys.get(keyId);
    return key.usage.requests === requests ? key.usage : null;
  });

describe('n > 1 fans out into n one-image upstream calls', () => {
  it('n: 4 on two accounts capped at 2 → 4 images, never more than 2 in flight per account', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 300, usage: { input_tokens: 10, output_tokens: 100 } }));
    const key = await newKey();
    const { res, json } = await generate(key.secret, { prompt: 'four foxes', n: 4 });
    expect(res.status).toBe(200);
    expect(json.data).toHaveLength(4);
    expect(res.headers.get('x-gateway-images-requested')).toBe('4');
    expect(res.headers.get('x-gateway-images-produced')).toBe('4');
    expect(json.usage).toMatchObject({ input_tokens: 40, output_tokens: 400, total_tokens: 440 });
    expect(h.fake.requests).toHaveLength(4);
    for (const sent of h.fake.requests) expect(sent.body!.fields).not.toHaveProperty('n');
    expect(h.fake.concurrency.max('fan-a')).toBeLessThanOrEqual(2);
    expect(h.fake.concurrency.max('fan-b')).toBeLessThanOrEqual(2);
    expect(new Set(h.fake.requests.map((r) => r.accountId))).toEqual(new Set(['fan-a', 'fan-b']));
    expect(await usageOf(key.id, 1)).toMatchObject({ requests: 1, successes: 1, images: 4, inputTokens: 40, outputTokens: 400 });
  });

  it('n: 6 with 4 slots: the parts queue for the slots and all 6 images arrive', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 200 }));
    const key = await newKey();
    const { res, json } = await generate(key.secret, { prompt: 'six owls', n: 6 });
    expect(res.status).toBe(200);
    expect(json.data).toHaveLength(6);
    expect(h.fake.concurrency.max('fan-a')).toBeLessThanOrEqual(2);
    expect(h.fake.concurrency.max('fan-b')).toBeLessThanOrEqual(2);
  });

  it('an account failing mid-way → its part fails over, still 4 images', async () => {
    h.fake.setBehavior('fan-a', [fakeBehaviors.serverError(500)]);
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 200 }));
    const key = await newKey();
    const { res, json } = await generate(key.secret, { prompt: 'four hares', n: 4 });
    expect(res.status).toBe(200);
    expect(json.data).toHaveLength(4);
    expect(h.fake.requests.filter((r) => r.status === 500)).toHaveLength(1);
    expect(h.fake.concurrency.max('fan-a')).toBeLessThanOrEqual(2);
  });

  it('all but one image failing → 200 with the one image, a header saying so, and usage for one', async () => {
    h.fake.setBehavior('fan-a', fakeBehaviors.serverError(502));
    h.fake.setBehavior('fan-b', fakeBehaviors.serverError(503));
    h.fake.setBehavior('fan-b', [fakeBehaviors.success({ delayMs: 100, usage: { input_tokens: 7, output_tokens: 70 } })]);
    const key = await newKey();
    const { res, json } = await generate(key.secret, { prompt: 'four wolves', n: 4 });
    expect(res.status).toBe(200);
    expect(json.data).toHaveLength(1);
    expect(res.headers.get('x-gateway-images-requested')).toBe('4');
    expect(res.headers.get('x-gateway-images-produced')).toBe('1');
    expect(await usageOf(key.id, 1)).toMatchObject({ successes: 1, images: 1, inputTokens: 7, outputTokens: 70 });
    const lines = await h.waitForLogEvents(res.headers.get('x-request-id')!, 2);
    expect(new Set(lines.map((l) => l.part))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('every part failing → the usual exhaustion error, nothing charged', async () => {
    h.fake.setBehavior('*', fakeBehaviors.serverError(500));
    const key = await newKey();
    const { res, json } = await generate(key.secret, { prompt: 'no luck', n: 3 });
    expect(res.status).toBe(502);
    expect(json.error?.code).toBe('account_pool_exhausted');
    expect(await usageOf(key.id, 1)).toMatchObject({ successes: 0, images: 0 });
  });

  it('a moderation block on every part → that 400, as for n: 1', async () => {
    h.fake.setBehavior('*', fakeBehaviors.badRequest());
    const key = await newKey();
    const { res, json } = await generate(key.secret, { prompt: 'blocked', n: 2 });
    expect(res.status).toBe(400);
    expect(json.error?.code).toBe('moderation_blocked');
  });

  it('one request is one key permit, whatever n', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 100 }));
    const key = await h.createKey({ routing: { mode: 'accounts', accounts: ['fan-a', 'fan-b'] }, maxConcurrency: 1 });
    const { res, json } = await generate(key.secret, { prompt: 'three cats', n: 3 });
    expect(res.status).toBe(200);
    expect(json.data).toHaveLength(3);
  });

  it('n_mode passthrough sends n upstream in one call', async () => {
    await h.admin.settings.update({ nMode: 'passthrough' });
    try {
      const key = await newKey();
      await waitFor('passthrough to apply', async () => {
        const before = h.fake.requests.length;
        const { res } = await generate(key.secret, { prompt: 'two bees', n: 2 });
        return res.status === 200 && h.fake.requests.length === before + 1 ? true : null;
      });
      expect(h.fake.requests.at(-1)!.body!.fields).toMatchObject({ n: 2 });
    } finally {
      await h.admin.settings.update({ nMode: 'fanout' });
    }
  });
});
