import { createOpenAI } from '@ai-sdk/openai';
import { generateImage } from 'ai';
import OpenAI, { toFile } from 'openai';
import OpenAIv4, { toFile as toFileV4 } from 'openai-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng } from '../support/images.js';

/**
 * Real clients, unchanged but for `baseURL` and key, against a real gateway process and the fake
 * upstream (issue 7): the official SDK's current major and 4.x, the Vercel AI SDK, and the body
 * LangChain's DallEAPIWrapper sends. Each case checks what the upstream actually received.
 */

let h: GatewayHarness;
let secret: string;

beforeAll(async () => {
  h = await startGatewayHarness();
  await h.importAccount('rc-a', { imageConcurrency: 4 });
  await h.importAccount('rc-b', { imageConcurrency: 4 });
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

const SERVED_MODEL = 'gpt-image-2';
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

/** The media type the bytes really are (checked independently of the gateway's own sniffer). */
function mediaTypeOf(bytes: Buffer): string {
  if (bytes.subarray(0, 4).equals(PNG_MAGIC)) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return 'unknown';
}

/** A `data:` URL whose declared media type is what its bytes are. */
function expectHonestDataUrl(url: string | undefined): void {
  const match = /^data:(image\/[\w.+-]+);base64,([A-Za-z0-9+/]+={0,2})$/.exec(url ?? '');
  expect(match, `not a base64 image data URL: ${url?.slice(0, 40)}`).not.toBeNull();
  expect(match![1]).toBe(mediaTypeOf(Buffer.from(match![2]!, 'base64')));
}

const headerList = (value: string | null): string[] => (value ? value.split(',').map((s) => s.trim()) : []);
const lastSent = () => h.fake.requests.at(-1)!.body!;

/** What LangChain's DallEAPIWrapper (and many dall-e era apps) send through an OpenAI SDK. */
const DALL_E_3_BODY = {
  model: 'dall-e-3',
  prompt: 'a lighthouse at dusk',
  quality: 'hd',
  style: 'vivid',
  response_format: 'url',
  size: '1024x1024',
  n: 1,
  user: 'end-user-7',
} as const;

interface ImagesAnswer {
  data?: Array<{ b64_json?: string; url?: string }>;
}
/** One official SDK major, reduced to the calls these tests make. */
interface SdkUnderTest {
  generate(body: Record<string, unknown>): Promise<{ data: ImagesAnswer; headers: Headers }>;
  editTwoWithMask(images: Buffer[], mask: Buffer): Promise<ImagesAnswer>;
}

const SDKS: Record<'7.x' | '4.x', () => SdkUnderTest> = {
  '7.x': () => {
    const client = h.sdk(secret);
    return {
      async generate(body) {
        const { data, response } = await client.images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming).withResponse();
        return { data, headers: response.headers };
      },
      async editTwoWithMask(images, mask) {
        const files = await Promise.all(images.map((b, i) => toFile(b, `in${i}.png`, { type: 'image/png' })));
        return client.images.edit({ model: 'gpt-image-1', prompt: 'merge them', image: files, mask: await toFile(mask, 'mask.png', { type: 'image/png' }) });
      },
    };
  },
  '4.x': () => {
    const client = new OpenAIv4({ apiKey: secret, baseURL: `${h.gatewayUrl}/v1`, maxRetries: 0, timeout: 60_000 });
    return {
      async generate(body) {
        const { data, response } = await client.images.generate(body as unknown as OpenAIv4.ImageGenerateParams).withResponse();
        return { data, headers: response.headers as unknown as Headers };
      },
      async editTwoWithMask(images, mask) {
        const files = await Promise.all(images.map((b, i) => toFileV4(b, `in${i}.png`, { type: 'image/png' })));
        return client.images.edit({ model: 'gpt-image-1', prompt: 'merge them', image: files, mask: await toFileV4(mask, 'mask.png', { type: 'image/png' }) });
      },
    };
  },
};

describe.each(['7.x', '4.x'] as const)('official openai SDK %s', (major) => {
  const sdk = () => SDKS[major]();

  it('images.generate with gpt-image-1 → b64 PNG, upstream got the served model', async () => {
    const { data, headers } = await sdk().generate({ model: 'gpt-image-1', prompt: 'a red fox', size: '1024x1024' });
    expect(mediaTypeOf(Buffer.from(data.data![0]!.b64_json!, 'base64'))).toBe('image/png');
    expect(headers.get('x-gateway-model')).toBe(SERVED_MODEL);
    expect(h.fake.requests).toHaveLength(1);
    expect(lastSent().fields).toMatchObject({ model: SERVED_MODEL, size: '1024x1024' });
  });

  it('images.generate the dall-e-3 way (hd, vivid, url, user) → data URL; legacy fields mapped or dropped, and said so', async () => {
    const { data, headers } = await sdk().generate({ ...DALL_E_3_BODY });
    expect(data.data).toHaveLength(1);
    expectHonestDataUrl(data.data![0]!.url);
    expect(data.data![0]!.b64_json).toBeUndefined();
    expect(headerList(headers.get('x-gateway-ignored-params')).sort()).toEqual(['style', 'user']);
    expect(headerList(headers.get('x-gateway-mapped-params'))).toContain('quality');
    const { fields } = lastSent();
    expect(fields).toMatchObject({ model: SERVED_MODEL, quality: 'high', size: '1024x1024' });
    for (const dropped of ['style', 'user', 'response_format']) expect(fields).not.toHaveProperty(dropped);
  });

  it('response_format url with output_format jpeg → the data URL names what the bytes are (PNG here), not the request', async () => {
    const { data } = await sdk().generate({ model: 'gpt-image-1', prompt: 'a teapot', response_format: 'url', output_format: 'jpeg' });
    expect(data.data![0]!.url).toMatch(/^data:image\/png;base64,/);
    expectHonestDataUrl(data.data![0]!.url);
    expect(lastSent().fields).toMatchObject({ output_format: 'jpeg' });
  });

  it('images.edit with two files and a mask → upstream got both images in order, and the mask', async () => {
    const images = [makePng(6, 6), makePng(12, 12)];
    const mask = makePng(9, 9);
    const res = await sdk().editTwoWithMask(images, mask);
    expect(res.data).toHaveLength(1);
    const sent = lastSent();
    expect(h.fake.requests.at(-1)!.endpoint).toBe('edits');
    expect(sent.fields).toMatchObject({ model: SERVED_MODEL });
    expect(sent.images).toEqual(images.map((b) => ({ kind: 'data_url', mime: 'image/png', bytes: b.length })));
    expect(sent.mask).toEqual({ kind: 'data_url', mime: 'image/png', bytes: mask.length });
  });
});

describe('official openai SDK 7.x specifics', () => {
  it('sends nulls for unset nullable fields as is → 200, and nothing null reaches the upstream', async () => {
    const wire: string[] = [];
    const client = new OpenAI({
      apiKey: secret,
      baseURL: `${h.gatewayUrl}/v1`,
      maxRetries: 0,
      fetch: async (url, init) => {
        if (typeof init?.body === 'string') wire.push(init.body);
        return fetch(url, init);
      },
    });
    const res = await client.images.generate({ prompt: 'a quiet harbour', size: null, n: null, quality: null });
    expect(res.data).toHaveLength(1);
    expect(JSON.parse(wire[0]!)).toMatchObject({ size: null, n: null, quality: null });
    const { fields } = lastSent();
    for (const name of ['size', 'n', 'quality']) expect(fields[name] ?? 'absent').toBe('absent');
  });
});

describe('Vercel AI SDK (ai + @ai-sdk/openai)', () => {
  /** The provider as an app would build it; `wire` (if given) collects the JSON bodies it sends. */
  const provider = (wire?: unknown[]) =>
    createOpenAI({
      baseURL: `${h.gatewayUrl}/v1`,
      apiKey: secret,
      fetch: async (url, init) => {
        if (typeof init?.body === 'string') wire?.push(JSON.parse(init.body));
        return fetch(url, init);
      },
    });

  it('generateImage gpt-image-1 n: 6 → 6 images from 6 one-image upstream calls', async () => {
    const result = await generateImage({ model: provider().image('gpt-image-1'), prompt: 'six paper boats', n: 6, maxRetries: 0 });
    expect(result.images).toHaveLength(6);
    for (const image of result.images) expect(mediaTypeOf(Buffer.from(image.uint8Array))).toBe('image/png');
    expect(result.responses).toHaveLength(1); // one client call …
    expect(result.responses[0]!.headers?.['x-gateway-images-produced']).toBe('6');
    expect(h.fake.requests).toHaveLength(6); // … served by six upstream calls
    for (const sent of h.fake.requests) {
      expect(sent.endpoint).toBe('generations');
      expect(sent.body!.fields).toMatchObject({ model: SERVED_MODEL });
      expect(sent.body!.fields).not.toHaveProperty('n');
    }
  });

  it('provider options quality hd, style vivid, user, safetyIdentifier → still works, hints dropped and named', async () => {
    const result = await generateImage({
      model: provider().image('gpt-image-1'),
      prompt: 'a vivid parrot',
      maxRetries: 0,
      providerOptions: { openai: { quality: 'hd', style: 'vivid', user: 'u', safetyIdentifier: 'sid-1' } },
    });
    expect(result.images).toHaveLength(1);
    const headers = result.responses[0]!.headers ?? {};
    expect(headerList(headers['x-gateway-ignored-params'] ?? null).sort()).toEqual(['safety_identifier', 'style', 'user']);
    const { fields } = lastSent();
    expect(fields).toMatchObject({ model: SERVED_MODEL, quality: 'high' });
    for (const dropped of ['style', 'user', 'safety_identifier']) expect(fields).not.toHaveProperty(dropped);
  });

  it('dall-e-3 (one image per call in the SDK) n: 2 with response_format b64_json → 2 images', async () => {
    const wire: unknown[] = [];
    const result = await generateImage({ model: provider(wire).image('dall-e-3'), prompt: 'two kites', n: 2, maxRetries: 0 });
    expect(result.images).toHaveLength(2);
    expect(wire).toEqual([1, 2].map(() => expect.objectContaining({ model: 'dall-e-3', n: 1, response_format: 'b64_json' })));
    expect(h.fake.requests).toHaveLength(2);
    for (const sent of h.fake.requests) {
      expect(sent.body!.fields).toMatchObject({ model: SERVED_MODEL });
      expect(sent.body!.fields).not.toHaveProperty('response_format');
    }
  });

  it('edit: prompt { text, images, mask } → multipart edit; upstream got both images in order, and the mask', async () => {
    const images = [makePng(5, 5), makePng(10, 10)];
    const mask = makePng(7, 7);
    const result = await generateImage({ model: provider().image('gpt-image-1'), prompt: { text: 'put them together', images, mask }, maxRetries: 0 });
    expect(result.images).toHaveLength(1);
    const sent = h.fake.requests.at(-1)!;
    expect(sent.endpoint).toBe('edits');
    expect(sent.body!.fields).toMatchObject({ model: SERVED_MODEL });
    expect(sent.body!.images).toEqual(images.map((b) => ({ kind: 'data_url', mime: 'image/png', bytes: b.length })));
    expect(sent.body!.mask).toEqual({ kind: 'data_url', mime: 'image/png', bytes: mask.length });
  });
});

describe("LangChain's DallEAPIWrapper (not installed: its body, as the Python SDK sends it)", () => {
  it('dall-e-3, vivid, standard, url, n 1, 1024x1024 → 200 with a data URL', async () => {
    const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        'user-agent': 'OpenAI/Python 1.82.0',
        'x-stainless-lang': 'python',
      },
      body: JSON.stringify({
        model: 'dall-e-3',
        prompt: 'a fox in the snow',
        style: 'vivid',
        quality: 'standard',
        response_format: 'url',
        n: 1,
        size: '1024x1024',
      }),
    });
    const json = (await res.json()) as ImagesAnswer;
    expect(res.status).toBe(200);
    expect(json.data).toHaveLength(1);
    expectHonestDataUrl(json.data![0]!.url);
    expect(headerList(res.headers.get('x-gateway-ignored-params'))).toEqual(['style']);
    const { fields } = lastSent();
    expect(fields).toMatchObject({ model: SERVED_MODEL, quality: 'auto', size: '1024x1024' });
    for (const dropped of ['style', 'response_format']) expect(fields).not.toHaveProperty(dropped);
  });
});
