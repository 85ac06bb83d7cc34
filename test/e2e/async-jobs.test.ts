import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
let secret: string;

/** One account capped at 1 image, so jobs must queue; results expire quickly so expiry is observable. */
beforeAll(async () => {
  h = await startGatewayHarness({ env: { JOB_RESULT_TTL_MS: '3000', JOB_HEARTBEAT_MS: '200', RATE_LIMIT_COOLDOWN_CAP_MS: '0', FAILURE_BACKOFF_BASE_MS: '0' } });
  await h.importAccount('job-acct', { imageConcurrency: 1 });
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

interface JobView {
  id: string;
  object: string;
  status: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  result?: { created: number; data: Array<{ b64_json: string }>; usage?: Record<string, unknown> };
  error?: { code: string; message: string };
}

const PROMPT = 'a job for a patient lighthouse keeper';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function submit(body: Record<string, unknown> = {}, key = secret) {
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', prefer: 'respond-async' },
    body: JSON.stringify({ prompt: PROMPT, ...body }),
  });
  return { res, job: (await res.json()) as JobView };
}

const getJob = async (id: string, query = '', key = secret) => {
  const res = await fetch(`${h.gatewayUrl}/v1/images/jobs/${id}${query}`, { headers: { authorization: `Bearer ${key}` } });
  return { res, job: (await res.json()) as JobView };
};

const settled = (id: string, key = secret) =>
  waitFor(`job ${id.slice(0, 12)}… to end`, async () => {
    const { job } = await getJob(id, '', key);
    return ['succeeded', 'failed', 'cancelled', 'expired'].includes(job.status) ? job : null;
  });

describe('async jobs (Prefer: respond-async)', () => {
  it('202 with Location at once; poll and ?wait deliver the same Images API answer', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 300 }));
    const { res, job } = await submit({ n: 2 });
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBe('respond-async');
    expect(res.headers.get('location')).toBe(`/v1/images/jobs/${job.id}`);
    expect(job).toMatchObject({ object: 'image.job', status: 'queued' });
    expect(job.id).toMatch(/^imgjob_[A-Za-z0-9_-]{43}$/);
    const waited = await getJob(job.id, '?wait=30');
    expect(waited.job.status).toBe('succeeded');
    expect(waited.job.result!.data).toHaveLength(2);
    expect(Buffer.from(waited.job.result!.data[0]!.b64_json, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(waited.job.result!.usage).toMatchObject({ input_tokens: 34, output_tokens: 2744 });
    const polled = await getJob(job.id);
    expect(polled.job.result).toEqual(waited.job.result);
    expect(h.fake.requests).toHaveLength(2);
  });

  it('a job answers what the plain request would: an upstream 400 becomes the job error', async () => {
    h.fake.setBehavior('*', fakeBehaviors.badRequest());
    const { job } = await submit();
    const done = await settled(job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'moderation_blocked' });
  });

  it('another key, or a made-up id, gets 404', async () => {
    const { job } = await submit();
    const other = await h.createKey();
    expect((await getJob(job.id, '', other.secret)).res.status).toBe(404);
    expect((await getJob(`imgjob_${'A'.repeat(43)}`)).res.status).toBe(404);
    expect((await getJob('not-a-job')).res.status).toBe(404);
    await settled(job.id);
  });

  it('DELETE cancels a running job and aborts its upstream call', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 30_000 }));
    const { job } = await submit();
    await waitFor('the upstream call to start', async () => (h.fake.concurrency.current('job-acct') === 1 ? true : null));
    const res = await fetch(`${h.gatewayUrl}/v1/images/jobs/${job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${secret}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as JobView).status).toBe('cancelled');
    await waitFor('the upstream call to be cut', async () => (h.fake.concurrency.current('job-acct') === 0 ? true : null));
  });

  it('a queued job holds its budget reservation: a budget of 2 images takes 2 jobs and refuses the 3rd; a cancelled job gives its share back', async () => {
    const budgeted = (await h.createKey({ quotaPeriod: 'day', quotaImages: 2 })).secret;
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 30_000 }));
    const first = await submit({}, budgeted);
    const second = await submit({}, budgeted);
    expect([first.res.status, second.res.status]).toEqual([202, 202]);
    const third = await submit({}, budgeted);
    expect(third.res.status).toBe(429);
    expect((third.job as unknown as { error: { code: string } }).error.code).toBe('quota_exceeded');
    // The second job waits behind the first (the account is capped at 1); cancelling it frees its image.
    const cancelled = await fetch(`${h.gatewayUrl}/v1/images/jobs/${second.job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${budgeted}` } });
    expect(((await cancelled.json()) as JobView).status).toBe('cancelled');
    const again = await submit({}, budgeted);
    expect(again.res.status).toBe(202);
    for (const job of [first.job, again.job])
      await fetch(`${h.gatewayUrl}/v1/images/jobs/${job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${budgeted}` } });
  });

  it('a job that never runs still counts once: one cancelled while queued, one refused because its key was disabled', async () => {
    // One job at a time for this key: the others wait in its queue (not for an account), where a refusal finds them.
    const key = await h.createKey({ maxConcurrency: 1 });
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 30_000 }));
    const running = await submit({}, key.secret);
    await waitFor('the first job to reach the upstream', async () => (h.fake.concurrency.current('job-acct') === 1 ? true : null));
    const cancelled = await submit({}, key.secret);
    const del = await fetch(`${h.gatewayUrl}/v1/images/jobs/${cancelled.job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${key.secret}` } });
    expect(((await del.json()) as JobView).status).toBe('cancelled');
    const refused = await submit({}, key.secret);
    await h.admin.keys.update(key.id, { status: 'disabled' });
    await waitFor('the queued job to be refused and counted', async () => ((await h.admin.keys.get(key.id)).usage.requests === 2 ? true : null));
    await h.admin.keys.update(key.id, { status: 'active' });
    expect((await settled(refused.job.id, key.secret)).error?.code).toBe('key_disabled');
    await fetch(`${h.gatewayUrl}/v1/images/jobs/${running.job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${key.secret}` } });
    await waitFor('the running job to be cut', async () => (h.fake.concurrency.current('job-acct') === 0 ? true : null));
    const usage = await waitFor('all three to be counted', async () => {
      const { usage } = await h.admin.keys.get(key.id);
      return usage.requests === 3 ? usage : null;
    });
    expect({ requests: usage.requests, successes: usage.successes, images: usage.images }).toEqual({ requests: 3, successes: 0, images: 0 });
    const report = await h.admin.usage.report({ sinceMs: 0, untilMs: Date.now() + 3_600_000, by: ['key'], key: key.id });
    expect(report.rows.map((r) => r.requests)).toEqual([3]);
    expect(h.fake.requests).toHaveLength(1); // only the first job ever reached the upstream
  });

  it('a job waiting for an account whose key is disabled meanwhile never starts: key_disabled once the account frees', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 30_000 }));
    const blocker = await submit();
    await waitFor('the blocking job to reach the upstream', async () => (h.fake.concurrency.current('job-acct') === 1 ? true : null));
    const key = await h.createKey();
    const waiting = await submit({}, key.secret);
    await h.admin.keys.update(key.id, { status: 'disabled' });
    await fetch(`${h.gatewayUrl}/v1/images/jobs/${blocker.job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${secret}` } });
    await waitFor('the waiting job to be refused', async () => ((await h.admin.keys.get(key.id)).usage.requests === 1 ? true : null));
    await h.admin.keys.update(key.id, { status: 'active' });
    expect((await settled(waiting.job.id, key.secret)).error?.code).toBe('key_disabled');
    expect(h.fake.requests).toHaveLength(1); // the blocker's call only
  });

  it('five jobs on an account capped at 1: all succeed, in order, never more than one at the upstream', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 150 }));
    const jobs = [];
    for (let i = 0; i < 5; i += 1) jobs.push((await submit({ prompt: `queued job ${i}` })).job);
    const done = await Promise.all(jobs.map((j) => settled(j.id)));
    expect(done.map((j) => j.status)).toEqual(Array(5).fill('succeeded'));
    expect(h.fake.concurrency.max('job-acct')).toBe(1);
    // FIFO: the upstream saw the prompts in the order the jobs were submitted.
    const order = h.fake.requests.map((r) => r.body!.promptSha256);
    expect(order).toEqual([0, 1, 2, 3, 4].map((i) => sha256(`queued job ${i}`)));
  });

  it('a key past job_max_queued_per_key waiting jobs gets 429 job_queue_full with a retry hint', async () => {
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 1_000 }));
    await h.admin.settings.update({ jobMaxQueuedPerKey: 1 });
    try {
      const key = await h.createKey();
      const running = await submit({}, key.secret);
      await waitFor('the first job to run', async () => ((await getJob(running.job.id, '', key.secret)).job.status === 'running' ? true : null));
      const refused = await waitFor('the limit to apply', async () => {
        const next = await submit({}, key.secret);
        return next.res.status === 429 ? next : null;
      });
      expect(refused.res.headers.get('retry-after')).toBe('1');
      expect((refused.job as unknown as { error: { code: string } }).error.code).toBe('job_queue_full');
    } finally {
      await h.admin.settings.update({ jobMaxQueuedPerKey: 20 });
    }
  });

  it('a finished job expires after JOB_RESULT_TTL_MS: no result any more', async () => {
    const { job } = await submit();
    expect((await settled(job.id)).status).toBe('succeeded');
    const expired = await waitFor(
      'the result to expire',
      async () => {
        const { job: view } = await getJob(job.id);
        return view.status === 'expired' ? view : null;
      },
      15_000,
    );
    expect(expired.result).toBeUndefined();
  });

  it('refuses now what would be refused now: a stream, a bad field', async () => {
    const stream = await submit({ stream: true });
    expect(stream.res.status).toBe(400);
    const bad = await submit({ n: 11 });
    expect(bad.res.status).toBe(400);
  });

  it('nothing readable reaches the data directory: no prompt, no image bytes, no job id', async () => {
    const { job } = await submit();
    const done = await settled(job.id);
    const image = done.result!.data[0]!.b64_json;
    const needles = [PROMPT, image, Buffer.from(image, 'base64').toString('latin1').slice(8, 40), job.id.slice('imgjob_'.length)];
    const files = await listFiles(h.dataDir);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = (await readFile(file)).toString('latin1');
      for (const needle of needles) expect(text.includes(needle), `${needle.slice(0, 16)}… in ${file}`).toBe(false);
    }
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if ((await stat(path)).size > 0) out.push(path);
  }
  return out;
}
