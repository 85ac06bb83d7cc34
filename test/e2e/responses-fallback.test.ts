import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
let secret: string;

beforeAll(async () => {
  h = await startGatewayHarness({ env: { RATE_LIMIT_COOLDOWN_CAP_MS: '0', FAILURE_BACKOFF_BASE_MS: '0' } });
  await h.importAccount('fb-acct');
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const generate = (body: Record<string, unknown> = {}) =>
  fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a fallback lighthouse', ...body }),
  });

const setFallback = async (on: boolean) => {
  await h.admin.settings.update({ responsesFallback: on });
  h.fake.setBehavior('fb-acct', [fakeBehaviors.detailError(404, 'Not Found'), fakeBehaviors.success()]);
  await waitFor(`responses_fallback ${on} to apply`, async () => {
    const res = await generate();
    h.fake.reset();
    h.fake.setBehavior('fb-acct', [fakeBehaviors.detailError(404, 'Not Found'), fakeBehaviors.success()]);
    return (res.status === 200) === on ? true : null;
  });
  h.fake.reset();
};

describe('the Responses fallback for plain requests (setting responses_fallback)', () => {
  it('off (default): an images endpoint that answers 404 is passed through as the error it is', async () => {
    h.fake.setBehavior('fb-acct', fakeBehaviors.detailError(404, 'Not Found'));
    const res = await generate();
    expect(res.status).toBe(404);
    expect(h.fake.requests.map((r) => r.endpoint)).toEqual(['generations']);
  });

  it('on: the same request is served through the Responses API as the Images API JSON, b64 or url', async () => {
    await setFallback(true);
    try {
      h.fake.setBehavior('fb-acct', [fakeBehaviors.detailError(404, 'Not Found')]);
      const res = await generate({ size: '1024x1536' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data: Array<{ b64_json: string }>; usage: Record<string, unknown>; created: number };
      expect(Buffer.from(body.data[0]!.b64_json, 'base64').subarray(1, 4).toString()).toBe('PNG');
      expect(body.usage).toMatchObject({ input_tokens: 17, output_tokens: 1372, total_tokens: 1389 });
      expect(h.fake.requests.map((r) => r.endpoint)).toEqual(['generations', 'responses']);
      expect(h.fake.requests[1]!.body!.tool).toMatchObject({ size: '1024x1536', partial_images: 0 });
      const lines = await h.waitForLogEvents(res.headers.get('x-request-id')!, 2);
      expect(lines.at(-1)).toMatchObject({ upstream_path: 'responses', stream: false, response_image_count: 1 });

      h.fake.setBehavior('fb-acct', [fakeBehaviors.detailError(400, "The 'gpt-image-2' model is not supported when using Codex with a ChatGPT account.")]);
      const url = await generate({ response_format: 'url' });
      expect(((await url.json()) as { data: Array<{ url: string }> }).data[0]!.url).toMatch(/^data:image\/png;base64,iVBOR/);
    } finally {
      await h.admin.settings.update({ responsesFallback: false });
    }
  });

  it('on: a content-policy 400 is still the answer (it is the request, not the endpoint)', async () => {
    await setFallback(true);
    try {
      h.fake.setBehavior('fb-acct', [fakeBehaviors.badRequest()]);
      const res = await generate();
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('moderation_blocked');
      expect(h.fake.requests.map((r) => r.endpoint)).toEqual(['generations']);
    } finally {
      await h.admin.settings.update({ responsesFallback: false });
    }
  });
});
