import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng } from '../support/images.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { expectRefusedWithin } from '../support/expect-refused.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
let secret: string;

beforeAll(async () => {
  h = await startGatewayHarness();
  await h.importAccount('acct-sdk-1');
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());

describe('the official openai SDK against the gateway', () => {
  it('images.generate returns b64_json images and usage (n: 2 as two one-image upstream calls)', async () => {
    const before = h.fake.requests.length;
    const res = await h.sdk(secret).images.generate({ model: 'gpt-image-2', prompt: 'a red fox in a field', n: 2, size: '1024x1024' });
    expect(res.data).toHaveLength(2);
    expect(Buffer.from(res.data![0]!.b64_json!, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(res.usage?.total_tokens).toBeGreaterThan(0);
    const sent = h.fake.requests.slice(before);
    expect(sent).toHaveLength(2);
    for (const one of sent) {
      expect(one.endpoint).toBe('generations');
      expect(one.body!.fields).toMatchObject({ model: 'gpt-image-2', size: '1024x1024' });
      expect(one.body!.fields).not.toHaveProperty('n');
    }
  });

  it('images.edit with one file sends it upstream as an {image_url} data URL', async () => {
    const png = makePng(8, 8);
    const res = await h.sdk(secret).images.edit({ model: 'gpt-image-2', prompt: 'add a hat', image: await toFile(png, 'a.png', { type: 'image/png' }) });
    expect(res.data).toHaveLength(1);
    const sent = h.fake.requests.at(-1)!;
    expect(sent.endpoint).toBe('edits');
    expect(sent.body!.images).toEqual([expect.objectContaining({ mime: 'image/png', bytes: png.length })]);
  });

  it('images.edit with an array of files keeps their order', async () => {
    const files = [makePng(4, 4), makePng(16, 16), makePng(2, 2)];
    await h.sdk(secret).images.edit({
      model: 'gpt-image-2',
      prompt: 'combine',
      image: await Promise.all(files.map((f, i) => toFile(f, `img${i}.png`, { type: 'image/png' }))),
    });
    expect(h.fake.requests.at(-1)!.body!.images!.map((i) => i.bytes)).toEqual(files.map((f) => f.length));
  });

  it('exposes x-request-id through withResponse()', async () => {
    const { response, data } = await h.sdk(secret).images.generate({ prompt: 'a boat' }).withResponse();
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(data.data).toHaveLength(1);
  });

  it('maps 401 to AuthenticationError', async () => {
    await expect(h.sdk('cig_not_a_real_key').images.generate({ prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('maps 403 (image switch off) to PermissionDeniedError with the original message', async () => {
    const off = await h.createKey({ imageEnabled: false });
    const err = await h
      .sdk(off.secret)
      .images.generate({ prompt: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as InstanceType<typeof OpenAI.PermissionDeniedError>).message).toContain('codex image generation is disabled for this key');
  });

  it('maps 429 (key concurrency) to RateLimitError', async () => {
    const limited = await h.createKey({ maxConcurrency: 1 });
    h.fake.setBehavior('acct-sdk-1', [fakeBehaviors.success({ delayMs: 500 })]);
    const client = h.sdk(limited.secret);
    const slow = client.images.generate({ prompt: 'first' });
    // Upstream means admitted: the key's one slot is taken.
    await waitFor('the first request to reach the upstream', () => h.fake.concurrency.current('acct-sdk-1') === 1 || null);
    const err = await client.images.generate({ prompt: 'second' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as Error).message).toContain('key image request limit reached: key_max_concurrency');
    await slow;
  });

  it('a key disabled through the admin API is refused within a second', async () => {
    const key = await h.createKey();
    const client = h.sdk(key.secret);
    await client.images.generate({ prompt: 'before' });
    await h.admin.keys.update(key.id, { status: 'disabled' });
    const changedAt = Date.now();
    await expectRefusedWithin(client, changedAt);
  });

  it('returns data URLs for response_format url, typed by the image bytes (the fake answers PNG whatever was asked)', async () => {
    const res = await h.sdk(secret).images.generate({ prompt: 'a kite', response_format: 'url', output_format: 'webp' });
    expect(res.data![0]!.url).toMatch(/^data:image\/png;base64,iVBOR/);
    expect(res.data![0]!.b64_json).toBeUndefined();
  });
});
