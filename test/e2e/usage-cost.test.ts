/**
 * Estimated cost end to end: requests through a real `start` and the fake upstream are priced by
 * the price table setting in force when they end, and the cost lands, equal, in the key's lifetime
 * counters and in the usage rollups; a table change prices later requests only.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Settings } from '../../src/store/types.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGatewayHarness({ env: { USAGE_FLUSH_MS: '50' } });
});
afterAll(async () => h?.stop());

const EVERYTHING = { sinceMs: 0, untilMs: Date.now() + 3_600_000 };

/** Usage the fake reports per image: 12 text and 5 image input tokens, 1,372 output tokens. */
const USAGE = { input_tokens: 17, input_tokens_details: { text_tokens: 12, image_tokens: 5 }, output_tokens: 1_372 };
/** USAGE at the default gpt-image-2 prices (USD per 1M = micro-USD per token: text 5, image 8, output 30). */
const DEFAULT_COST = 12 * 5 + 5 * 8 + 1_372 * 30;

/** An image request (served as gpt-image-2, the default upstream model); returns its status, body read. */
async function sendImage(secret: string, n = 1): Promise<number> {
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a priced image', n }),
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Changes the price table and waits until the data plane serves with it: the same write allows a
 * CORS origin that only this change names, so the first answer carrying it comes from a snapshot
 * that holds the new table too (one transaction, one snapshot load).
 */
async function setPriceTable(priceTable: Settings['priceTable'], marker: string): Promise<void> {
  const origin = `https://${marker}.example`;
  await h.admin.settings.update({ priceTable, corsAllowedOrigins: [origin] });
  await waitFor(`the data plane to load the ${marker} price table`, async () => {
    const res = await fetch(`${h.gatewayUrl}/v1/models`, { headers: { origin } });
    await res.arrayBuffer();
    return res.headers.get('access-control-allow-origin') === origin;
  });
}

/** The key's rollup sums (every hour of the test). */
async function readKeyRollup(keyId: string) {
  const report = await h.admin.usage.report({ ...EVERYTHING, by: ['key'], key: keyId });
  return report.rows[0] ?? null;
}

describe('estimated cost', () => {
  it('prices each request by the table in force when it ends; key counters and rollups agree', async () => {
    const account = await h.importAccount('cost-1', { imageConcurrency: 4 });
    const key = await h.createKey({ name: 'cost-key', routing: { mode: 'accounts', accounts: [account.name] } });
    h.fake.setBehavior('cost-1', fakeBehaviors.success({ usage: USAGE }));

    // The default table: token prices over the reported usage.
    expect(await Promise.all([sendImage(key.secret), sendImage(key.secret)])).toEqual([200, 200]);
    const first = await waitFor('two priced requests in the key counters', async () => {
      const { usage } = await h.admin.keys.get(key.id);
      return usage.requests === 2 ? usage : null;
    });
    expect(first.estimatedCostMicros).toBe(2 * DEFAULT_COST);

    // Per-image prices only, and an upstream that reports no usage: the echoed quality and size
    // (medium, 1024x1024) price each of the two images a fanned-out request made.
    const perImage = { '1024x1024': 0.05, '1024x1536': 0.07, '1536x1024': 0.07 };
    await setPriceTable([{ model: 'gpt-image-2', image: { low: perImage, medium: perImage, high: perImage } }], 'per-image');
    h.fake.setBehavior('cost-1', fakeBehaviors.success({ usage: null }));
    expect(await sendImage(key.secret, 2)).toBe(200);

    // A table that prices nothing: the request counts 0 and as unpriced.
    await setPriceTable([], 'empty');
    h.fake.setBehavior('cost-1', fakeBehaviors.success({ usage: USAGE }));
    expect(await sendImage(key.secret)).toBe(200);

    const total = 2 * DEFAULT_COST + 2 * 50_000;
    const row = await waitFor('the rollups to hold all four requests', async () => {
      const r = await readKeyRollup(key.id);
      return r?.requests === 4 ? r : null;
    });
    const { usage } = await h.admin.keys.get(key.id);
    // Earlier requests keep the cost they were recorded with: only later ones took the new tables.
    expect(usage.estimatedCostMicros).toBe(total);
    expect(row).toMatchObject({ requests: 4, images: 5, estimatedCostMicros: total, unpricedRequests: 1 });
    // The input tokens the upstream reported as images are kept apart (three requests reported 5 of 17).
    expect(row).toMatchObject({ inputTokens: 3 * 17, imageInputTokens: 3 * 5 });

    // The wire names say it is an estimate.
    const res = await fetch(`${h.adminUrl}/admin/api/keys/${key.id}`, { headers: { authorization: `Bearer ${await readAdminToken()}` } });
    expect(((await res.json()) as { usage: Record<string, unknown> }).usage.estimated_cost_micros).toBe(total);
    await h.admin.settings.update({ corsAllowedOrigins: [] });
  });

  it('refuses a bad price table with 400 invalid_request naming the path, and keeps the table', async () => {
    const before = (await h.admin.settings.get()).priceTable;
    const bad = [{ model: 'gpt-image-2', tokens: { text: 5, output: 30 } }] as unknown as Settings['priceTable'];
    await expect(h.admin.settings.update({ priceTable: bad })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_request',
      param: 'price_table[0].tokens.image',
    });
    expect((await h.admin.settings.get()).priceTable).toEqual(before);
  });
});

/** The admin token `start` wrote, for a raw call that shows the wire names. */
async function readAdminToken(): Promise<string> {
  return (await readFile(join(h.dataDir, 'admin-token'), 'utf8')).trim();
}
