import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng } from '../support/images.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;

beforeAll(async () => {
  h = await startGatewayHarness();
});
afterAll(async () => h?.stop());

/** Every file the instance wrote (request logs, app log), as one string. */
async function readEverythingWritten(): Promise<string> {
  const files = (await readdir(h.logDir)).map((f) => join(h.logDir, f));
  const parts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
  return parts.join('\n') + (await h.readAppLog());
}

describe('privacy', () => {
  it('no prompt, image data, key secret or access token reaches the request log or the app log', async () => {
    const auth = makeCodexAuthJson({ accountId: 'priv-1' });
    await h.admin.accounts.import({ auth, name: 'priv-1' });
    const { secret } = await h.createKey();
    const prompt = 'PROMPT-CANARY a very private scene 4711';
    const png = makePng(6, 6);
    const b64 = png.toString('base64');
    const form = new FormData();
    form.append('prompt', prompt);
    form.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'private-file-name.png');
    const edit = await fetch(`${h.gatewayUrl}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
    expect(edit.status).toBe(200);
    const gen = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, n: 1 }),
    });
    const generated = ((await gen.json()) as { data: Array<{ b64_json: string }> }).data[0]!.b64_json;
    // An upstream failure and a bad request are logged too; they must not leak either.
    h.fake.setBehavior('priv-1', [fakeBehaviors.unauthorized()]);
    await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt }),
    });
    await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, bogus: 1 }),
    });
    await h.waitForLogEvents(gen.headers.get('x-request-id')!);

    const written = await readEverythingWritten();
    expect(written.length).toBeGreaterThan(0);
    const canaries = {
      prompt,
      promptFragment: 'very private scene',
      inputImage: b64.slice(0, 40),
      outputImage: generated.slice(0, 40),
      fileName: 'private-file-name',
      keySecret: secret,
      accessToken: auth.tokens.access_token,
      accessTokenPayload: auth.tokens.access_token.split('.')[1]!.slice(0, 40),
      refreshToken: auth.tokens.refresh_token,
      idToken: auth.tokens.id_token.split('.')[1]!.slice(0, 40),
    };
    for (const [name, value] of Object.entries(canaries)) expect(written.includes(value), `${name} leaked`).toBe(false);
  });
});

describe('usage per key', () => {
  it('totals are exact after 50 concurrent requests', async () => {
    for (const id of ['u-1', 'u-2', 'u-3', 'u-4']) await h.importAccount(id, { imageConcurrency: 20 });
    const { id, secret } = await h.createKey({ routing: { mode: 'accounts', accounts: ['u-1', 'u-2', 'u-3', 'u-4'] } });
    h.fake.setBehavior('*', fakeBehaviors.success({ delayMs: 20, usage: { input_tokens: 10, output_tokens: 90 } }));
    const statuses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${h.gatewayUrl}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: `usage ${i}`, n: 2 }),
        }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      ),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    const usage = await waitFor('usage to be flushed', async () => {
      const key = await h.admin.keys.get(id);
      return key.usage.requests === 50 ? key.usage : null;
    });
    expect(usage).toMatchObject({
      requests: 50,
      successes: 50,
      images: 100,
      inputTokens: 50 * 20,
      outputTokens: 50 * 180,
      totalTokens: 50 * 200,
      usageMissing: 0,
    });
    expect(usage.lastUsedAt).toBeGreaterThan(0);
  });

  it('quota: a key whose tokens left cannot cover the next request gets 429 insufficient_quota', async () => {
    await h.importAccount('q-1');
    // One request is estimated at 6,241 tokens (quality and size auto count as the dearest) and uses 6,500: the second cannot fit in 7,000.
    const { secret } = await h.createKey({ quotaTokens: 7_000, routing: { mode: 'accounts', accounts: ['q-1'] } });
    h.fake.setBehavior('q-1', fakeBehaviors.success({ usage: { input_tokens: 500, output_tokens: 6_000 } }));
    const call = () =>
      fetch(`${h.gatewayUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'q' }),
      });
    expect((await call()).status).toBe(200);
    const refused = await waitFor('quota to bite', async () => {
      const r = await call();
      return r.status === 429 ? r : null;
    });
    expect(((await refused.json()) as { error: { type: string; code: string } }).error).toMatchObject({
      type: 'insufficient_quota',
      code: 'quota_exceeded',
      message: 'quota_exceeded: this key has used 6500 of its 7000 tokens; this request needs about 6241 more',
    });
    expect(refused.headers.get('x-should-retry')).toBe('false');
  });
});

describe('metrics', () => {
  it('exposes request, failover and latency series with bounded labels', async () => {
    const text = await (await fetch(`${h.gatewayUrl}/metrics`)).text();
    expect(text).toContain('# TYPE');
    expect(text).toMatch(/_requests_total\{[^}]*endpoint="generations"/);
    expect(text).toMatch(/_request_duration_seconds_bucket/);
    expect(text).not.toContain('priv-1@example.com');
  });
});
