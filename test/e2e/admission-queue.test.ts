import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;

/** One account capped at 1 image, and requests that wait up to a minute for it. */
beforeAll(async () => {
  h = await startGatewayHarness({ env: { ADMISSION_WAIT_MS: '60000' } });
  await h.importAccount('q-acct', { imageConcurrency: 1 });
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A generation request; the prompt tells the requests apart at the fake upstream (it records its hash). */
const post = (secret: string, prompt: string, signal?: AbortSignal) =>
  request(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
    ...(signal ? { signal } : {}),
  }).then(async (res) => ({ status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }));

/** Requests waiting in the admission queue now, as /metrics reports them. */
async function queuedNow(): Promise<number> {
  const res = await request(`${h.gatewayUrl}/metrics`);
  const text = await res.body.text();
  return Number(/^codex_image_queued_requests (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

const waitQueued = (n: number) => waitFor(`${n} request(s) queued`, async () => ((await queuedNow()) === n ? true : null), 10_000);

/**
 * Occupies the account's only slot with a request the upstream never answers; `release()` hangs up
 * on it, which frees the slot (a client abort costs the account no cooldown).
 */
async function holdTheAccount(secret: string): Promise<{ release: () => Promise<void> }> {
  h.fake.setBehavior('q-acct', [fakeBehaviors.hang()]);
  const controller = new AbortController();
  const held = post(secret, 'holder', controller.signal).catch(() => null);
  await waitFor('the holder at the upstream', () => h.fake.concurrency.current('q-acct') === 1 || null);
  return {
    release: async () => {
      controller.abort();
      await held;
    },
  };
}

/** The prompts the upstream received, in order, the holder left out. */
const upstreamPrompts = (labels: Record<string, string>) =>
  h.fake.requests.map((r) => labels[r.body?.promptSha256 ?? ''] ?? '?').filter((label) => label !== 'holder');

describe('the fair wait queue (ADMISSION_WAIT_MS)', () => {
  it('account cap 1, 6 parallel requests: all succeed, the upstream never sees more than one at a time', async () => {
    const key = await h.createKey();
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 40 }));
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => post(key.secret, `parallel ${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(h.fake.concurrency.max('q-acct')).toBe(1);
    expect(h.fake.requests).toHaveLength(6);
    // Those that found the slot taken waited for it, and their log lines say how long.
    const lines = await waitFor('six log lines', async () => {
      const mine = (await h.readLogEvents()).filter((e) => e.key_id === key.id);
      return mine.length === 6 ? mine : null;
    });
    expect(lines.filter((e) => e.queue_wait_ms > 0).length).toBeGreaterThanOrEqual(1);
    expect(lines.every((e) => Number.isInteger(e.queue_wait_ms) && e.queue_wait_ms >= 0)).toBe(true);
  });

  it('two keys bursting: they take turns, one key does not finish all of its requests first', async () => {
    const x = await h.createKey();
    const y = await h.createKey();
    const holder = await holdTheAccount(x.secret);
    const labels: Record<string, string> = { [sha256('holder')]: 'holder' };
    const xs = [1, 2, 3].map((i) => {
      labels[sha256(`x${i}`)] = `x${i}`;
      return post(x.secret, `x${i}`);
    });
    await waitQueued(3);
    const ys = [1, 2, 3].map((i) => {
      labels[sha256(`y${i}`)] = `y${i}`;
      return post(y.secret, `y${i}`);
    });
    await waitQueued(6);
    h.fake.setBehavior('q-acct', fakeBehaviors.success());
    await holder.release();
    const results = await Promise.all([...xs, ...ys]);
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    // FIFO within a key, round-robin across keys.
    expect(upstreamPrompts(labels)).toEqual(['x1', 'y1', 'x2', 'y2', 'x3', 'y3']);
    expect(h.fake.concurrency.max('q-acct')).toBe(1);
  });

  it('a waiting client that disconnects leaves at once; the next waiter is served and the upstream never sees the one that left', async () => {
    const key = await h.createKey();
    const holder = await holdTheAccount(key.secret);
    const leaving = new AbortController();
    const gone = post(key.secret, 'gone', leaving.signal).catch((err: unknown) => err);
    await waitQueued(1);
    const next = post(key.secret, 'next');
    await waitQueued(2);
    leaving.abort();
    await gone;
    await waitQueued(1);
    h.fake.setBehavior('q-acct', fakeBehaviors.success());
    await holder.release();
    expect((await next).status).toBe(200);
    const labels = { [sha256('holder')]: 'holder', [sha256('gone')]: 'gone', [sha256('next')]: 'next' };
    expect(upstreamPrompts(labels)).toEqual(['next']);
  });

  it('async jobs wait in the same queue: a key’s jobs and another key’s plain requests take turns', async () => {
    const jobs = await h.createKey();
    const plain = await h.createKey();
    const holder = await holdTheAccount(plain.secret);
    const labels: Record<string, string> = { [sha256('holder')]: 'holder' };
    const submitted: string[] = [];
    for (const i of [1, 2]) {
      labels[sha256(`job${i}`)] = `job${i}`;
      const res = await request(`${h.gatewayUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${jobs.secret}`, 'content-type': 'application/json', prefer: 'respond-async' },
        body: JSON.stringify({ prompt: `job${i}` }),
      });
      expect(res.statusCode).toBe(202);
      submitted.push(((await res.body.json()) as { id: string }).id);
    }
    // The key's oldest job waits for the slot; the next one waits behind it, in the job queue.
    await waitQueued(1);
    const plains = [1, 2].map((i) => {
      labels[sha256(`plain${i}`)] = `plain${i}`;
      return post(plain.secret, `plain${i}`);
    });
    await waitQueued(3);
    h.fake.setBehavior('q-acct', fakeBehaviors.success());
    await holder.release();
    expect((await Promise.all(plains)).map((r) => r.status)).toEqual([200, 200]);
    for (const id of submitted) {
      const done = await request(`${h.gatewayUrl}/v1/images/jobs/${id}?wait=30`, { headers: { authorization: `Bearer ${jobs.secret}` } });
      expect(((await done.body.json()) as { status: string }).status).toBe('succeeded');
    }
    expect(upstreamPrompts(labels)).toEqual(['job1', 'plain1', 'job2', 'plain2']);
  });
});
