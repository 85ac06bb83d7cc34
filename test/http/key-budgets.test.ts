import { afterEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/control/api-key.js';
import { createUsageRecorder, type UsageRecorder } from '../../src/observe/usage-recorder.js';
import type { PriceTable } from '../../src/pricing/price-table.js';
import type { KeyRecord, Settings, Snapshot } from '../../src/store/types.js';
import { replies, ScriptedUpstream, type UpstreamScript } from '../support/scripted-upstream.js';
import { makeAccount, makeKey, makeSnapshot } from '../support/snapshot-fixtures.js';
import { buildTestGatewayApp } from '../support/test-gateway-app.js';
import { waitFor } from '../support/wait-for.js';

const SECRET = 'cig_key-budgets-secret';

/** A deferred the test opens when it chooses (an upstream call held until then). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * The data-plane app on a clock the test moves, with a real usage recorder on the same clock (its
 * flushes go nowhere, as when the database write succeeded): usage counts against the budget from
 * the recorder until a snapshot holds it.
 */
async function startApp(opts: {
  key: Partial<KeyRecord>;
  clock: number;
  settings?: Partial<Settings>;
  script?: UpstreamScript;
  periodUsage?: Snapshot['periodUsage'];
}) {
  let clock = opts.clock;
  const base = makeSnapshot([makeKey({ hash: hashApiKey(SECRET), ...opts.key })], [makeAccount('a', { imageConcurrency: 64 })]);
  const snapshot: Snapshot = {
    ...base,
    settings: { ...base.settings, ...opts.settings },
    periodUsage: opts.periodUsage ?? new Map(),
    loadedAt: opts.clock - 1_000,
  };
  const usage: UsageRecorder = createUsageRecorder({ apply: async () => undefined, flushIntervalMs: 3_600_000, now: () => clock });
  const upstream = new ScriptedUpstream(opts.script ?? { a: replies.ok() });
  const app = await buildTestGatewayApp(() => snapshot, { overrides: { upstream, usage, now: () => clock } });
  const generate = (body: Record<string, unknown> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v1/images/generations',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      payload: JSON.stringify({ prompt: 'p', ...body }),
    });
  return {
    app,
    upstream,
    usage,
    generate,
    setClock: (ms: number) => {
      clock = ms;
    },
  };
}

let current: Awaited<ReturnType<typeof startApp>> | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});
const start = async (opts: Parameters<typeof startApp>[0]) => (current = await startApp(opts));

const errorOf = (res: { json: () => unknown }) => (res.json() as { error: { message: string; code: string; type: string } }).error;

describe('periodic key budgets', () => {
  it('a day budget of 3 images: the 4th request gets 429 with retry-after to midnight UTC; past midnight the key works again', async () => {
    const t = await start({ key: { quotaPeriod: 'day', quotaImages: 3 }, clock: Date.UTC(2026, 10, 30, 22) });
    for (let i = 0; i < 3; i++) expect((await t.generate()).statusCode).toBe(200);
    const refused = await t.generate();
    expect(refused.statusCode).toBe(429);
    expect(errorOf(refused)).toMatchObject({
      type: 'insufficient_quota',
      code: 'quota_exceeded',
      message: 'quota_exceeded: this key has used 3 of its 3 images this day; the budget resets at 2026-12-01T00:00:00.000Z',
    });
    expect(refused.headers['retry-after']).toBe(String(2 * 3_600));
    expect(refused.headers['x-should-retry']).toBe('false');
    expect(t.upstream.calls).toHaveLength(3);
    // The usage reaches the database (here: nowhere) before midnight; the new day starts from nothing.
    await t.usage.flush();
    t.setClock(Date.UTC(2026, 11, 1, 0, 0, 1));
    expect((await t.generate()).statusCode).toBe(200);
  });

  it("a month budget in the operator's time zone resets at local midnight of the 1st, not UTC's", async () => {
    // 30 November 22:00 in New York is 1 December 03:00 UTC: still November there.
    const t = await start({ key: { quotaPeriod: 'month', quotaImages: 2 }, clock: Date.UTC(2026, 11, 1, 3), settings: { budgetTimeZone: 'America/New_York' } });
    expect((await t.generate({ n: 2 })).statusCode).toBe(200);
    const refused = await t.generate();
    expect(refused.statusCode).toBe(429);
    expect(errorOf(refused).message).toContain('this month; the budget resets at 2026-12-01T05:00:00.000Z');
    expect(refused.headers['retry-after']).toBe(String(2 * 3_600));
    await t.usage.flush();
    t.setClock(Date.UTC(2026, 11, 1, 5, 0, 1));
    expect((await t.generate()).statusCode).toBe(200);
  });

  it('a cost budget refuses the request whose estimate would pass it, naming dollars', async () => {
    const perImage = { '1024x1024': 0.5, '1024x1536': 0.5, '1536x1024': 0.5 };
    const priceTable: PriceTable = [{ model: 'gpt-image-2', image: { low: perImage, medium: perImage, high: perImage } }];
    const t = await start({ key: { quotaPeriod: 'week', quotaCostMicros: 1_200_000 }, clock: Date.UTC(2026, 10, 30, 12), settings: { priceTable } });
    expect((await t.generate()).statusCode).toBe(200);
    expect((await t.generate()).statusCode).toBe(200);
    const refused = await t.generate();
    expect(refused.statusCode).toBe(429);
    expect(errorOf(refused).message).toBe(
      'quota_exceeded: this key has used $1.00 of its $1.20 of estimated cost this week; this request needs about $0.50 more; the budget resets at 2026-12-07T00:00:00.000Z',
    );
  });

  it('holds under parallel requests: 20 at once on a budget of 5 images start exactly 5, the rest refused before any upstream call', async () => {
    const held = gate();
    const t = await start({ key: { quotaPeriod: 'day', quotaImages: 5 }, clock: Date.UTC(2026, 10, 30, 12), script: { a: replies.held(held.promise) } });
    const all = Array.from({ length: 20 }, () => t.generate());
    await waitFor('5 upstream calls', () => t.upstream.calls.length === 5);
    held.open();
    const statuses = (await Promise.all(all)).map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    expect(t.upstream.calls).toHaveLength(5);
  });

  it("a token budget reserves each request's estimate: 3,000 tokens left admit what the estimates fit, not 20", async () => {
    const held = gate();
    const t = await start({ key: { quotaPeriod: 'none', quotaTokens: 3_000 }, clock: Date.UTC(2026, 10, 30, 12), script: { a: replies.held(held.promise) } });
    // Medium 1024x1024: 1,056 image tokens plus the 1-token prompt, so two fit in 3,000 and a third does not.
    const all = Array.from({ length: 20 }, () => t.generate({ quality: 'medium', size: '1024x1024' }));
    await waitFor('2 upstream calls', () => t.upstream.calls.length === 2);
    held.open();
    const refused = (await Promise.all(all)).filter((r) => r.statusCode === 429);
    expect(refused).toHaveLength(18);
    expect(errorOf(refused[0]!).message).toBe('quota_exceeded: this key has used 2114 of its 3000 tokens; this request needs about 1057 more');
    expect(refused[0]!.headers['retry-after']).toBeUndefined();
  });

  it('a refused or failed request gives its reservation back', async () => {
    const t = await start({
      key: { quotaPeriod: 'day', quotaImages: 1 },
      clock: Date.UTC(2026, 10, 30, 12),
      script: { a: [replies.status(400), replies.ok()] },
    });
    expect((await t.generate()).statusCode).toBe(400);
    expect((await t.generate()).statusCode).toBe(200);
    expect((await t.generate()).statusCode).toBe(429);
  });

  it("the snapshot's stored usage counts for its own period only", async () => {
    const today = Date.UTC(2026, 10, 30);
    const stored = (periodStartMs: number) =>
      new Map([['key_1', { periodStartMs, periodEndMs: periodStartMs + 86_400_000, used: { images: 3, tokens: 0, costMicros: 0 } }]]);
    const t = await start({ key: { id: 'key_1', quotaPeriod: 'day', quotaImages: 3 }, clock: today + 12 * 3_600_000, periodUsage: stored(today) });
    expect((await t.generate()).statusCode).toBe(429);
    await t.app.close();
    // Loaded yesterday: today starts from nothing until the next load.
    const later = await start({
      key: { id: 'key_1', quotaPeriod: 'day', quotaImages: 3 },
      clock: today + 12 * 3_600_000,
      periodUsage: stored(today - 86_400_000),
    });
    expect((await later.generate()).statusCode).toBe(200);
  });
});
