import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testImageLimits } from '../../support/image-limits.js';
import { createImageSpool, type ImageSpool } from '../../../src/images/image-spool.js';
import type { ImageInput, ImageRequest, SpooledFile, UpstreamBody } from '../../../src/images/image-request.js';
import { parseImageJson } from '../../../src/images/parse-image-json.js';
import { buildResponsesUpstreamBody, buildUpstreamBody } from '../../../src/images/upstream-body.js';
import { makeJpegHeader, makePng, makeWebpHeader, padImage, toDataUrl } from '../../support/images.js';

const LIMITS = testImageLimits({ maxInputImages: 5 });
const MAX_CHUNK_BYTES = 128 * 1024;

let dir: string;
let spool: ImageSpool;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-body-test-'));
  spool = createImageSpool({ dir, maxFileBytes: 20_000_000, maxTotalBytes: 40_000_000 });
});
afterEach(async () => {
  await spool.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function drain(body: UpstreamBody): Promise<{ bytes: Buffer; largestChunk: number }> {
  const chunks: Buffer[] = [];
  for await (const chunk of body.open()) chunks.push(chunk as Buffer);
  return { bytes: Buffer.concat(chunks), largestChunk: Math.max(...chunks.map((c) => c.length)) };
}

async function expectBody(body: UpstreamBody, expected: unknown): Promise<void> {
  const { bytes, largestChunk } = await drain(body);
  expect(bytes.length).toBe(body.contentLength);
  if (body.bytes) expect(body.bytes.equals(bytes)).toBe(true); // the body held whole is the streamed one
  expect(JSON.parse(bytes.toString('utf8'))).toEqual(expected);
  expect(largestChunk).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
}

const base = (overrides: Partial<ImageRequest>): ImageRequest => ({
  endpoint: 'generations',
  model: 'gpt-image-2',
  prompt: 'p',
  n: 1,
  nGiven: false,
  options: {},
  responseFormat: 'b64_json',
  images: [],
  mask: null,
  requestedModel: null,
  stream: false,
  partialImages: 0,
  ignoredParams: [],
  mappedParams: [],
  ...overrides,
});

const spoolInput = async (bytes: Buffer): Promise<ImageInput> => {
  const file = await spool.spoolFile(Readable.from([bytes]), 'image[]');
  return { kind: 'spooled', mime: file.mime, bytes: file.bytes, file };
};

describe('buildUpstreamBody: generations', () => {
  it('sends model, prompt, the given options and n, and nothing the upstream does not take', async () => {
    const text = JSON.stringify({
      prompt: 'a fox',
      n: 2,
      size: '1536x1024',
      quality: 'high',
      background: 'opaque',
      output_format: 'jpeg',
      output_compression: 80,
      moderation: 'low',
      response_format: 'b64_json',
      user: 'u-9',
      stream: false,
      partial_images: 2,
    });
    const body = buildUpstreamBody(parseImageJson('generations', text, LIMITS));
    await expectBody(body, {
      model: 'gpt-image-2',
      prompt: 'a fox',
      n: 2,
      size: '1536x1024',
      quality: 'high',
      background: 'opaque',
      output_format: 'jpeg',
      output_compression: 80,
      moderation: 'low',
    });
    const raw = (await drain(body)).bytes.toString();
    for (const absent of ['response_format', 'user', 'stream', 'partial_images', 'u-9']) expect(raw).not.toContain(absent);
  });

  it('injects the default model and leaves n out when the client did not give it', async () => {
    await expectBody(buildUpstreamBody(parseImageJson('generations', '{"prompt":"x"}', LIMITS)), { model: 'gpt-image-2', prompt: 'x' });
  });

  it('never forwards an option outside the upstream list, even if one slipped into options', async () => {
    const req = base({ options: { quality: 'low', ...({ style: 'vivid' } as object) } });
    await expectBody(buildUpstreamBody(req), { model: 'gpt-image-2', prompt: 'p', quality: 'low' });
  });

  it.each([
    ['multi-byte characters', 'ünïcödé 画像 😀'],
    ['a lone surrogate', 'broken \ud800 half'],
    ['quotes, backslashes and control characters', 'say "hi"\\\n\t\u0001'],
  ])('computes an exact length for a prompt with %s', async (_label, prompt) => {
    await expectBody(buildUpstreamBody(base({ prompt })), { model: 'gpt-image-2', prompt });
  });
});

describe('buildUpstreamBody: held whole or streamed', () => {
  it('holds a small body of text alone whole, with its exact length', async () => {
    const body = buildUpstreamBody(base({ prompt: 'a fox é 😀', options: { size: '1024x1024' } }));
    expect(body.bytes?.length).toBe(body.contentLength);
    await expectBody(body, { model: 'gpt-image-2', prompt: 'a fox é 😀', size: '1024x1024' });
  });

  it('streams a body with a large inline data URL or a spooled file, never holding it whole', async () => {
    const dataUrl = toDataUrl('png', padImage(makePng(8, 8), 100_000));
    const inline = buildUpstreamBody(parseImageJson('edits', JSON.stringify({ prompt: 'p', images: [dataUrl] }), LIMITS));
    const spooled = buildUpstreamBody(base({ endpoint: 'edits', images: [await spoolInput(makePng(4, 4))] }));
    expect(inline.bytes).toBeUndefined();
    expect(spooled.bytes).toBeUndefined();
  });
});

describe('buildUpstreamBody: edits', () => {
  it('sends images and mask as image_url objects: URLs and data URLs as given', async () => {
    const png = toDataUrl('png', makePng(4, 4));
    const jpg = `DATA:IMAGE/JPG;BASE64,${makeJpegHeader().toString('base64')}`;
    const text = JSON.stringify({
      prompt: 'add a hat',
      images: ['https://example.com/a.png?x="1"', { image_url: png }, jpg],
      mask: png,
      input_fidelity: 'high',
    });
    await expectBody(buildUpstreamBody(parseImageJson('edits', text, LIMITS)), {
      model: 'gpt-image-2',
      prompt: 'add a hat',
      input_fidelity: 'high',
      images: [{ image_url: 'https://example.com/a.png?x="1"' }, { image_url: png }, { image_url: jpg }],
      mask: { image_url: png },
    });
  });

  it('streams a large inline data URL in slices', async () => {
    const png = padImage(makePng(8, 8), 3_000_000);
    const dataUrl = toDataUrl('png', png);
    const body = buildUpstreamBody(parseImageJson('edits', JSON.stringify({ prompt: 'p', images: [dataUrl] }), LIMITS));
    await expectBody(body, { model: 'gpt-image-2', prompt: 'p', images: [{ image_url: dataUrl }] });
  });

  it.each([3_000_000, 3_000_001, 3_000_002])('streams a spooled %i-byte upload as base64 with an exact length', async (size) => {
    const png = padImage(makePng(8, 8), size);
    const body = buildUpstreamBody(base({ endpoint: 'edits', images: [await spoolInput(png)] }));
    await expectBody(body, { model: 'gpt-image-2', prompt: 'p', images: [{ image_url: `data:image/png;base64,${png.toString('base64')}` }] });
  });

  it('mixes spooled images, a spooled mask and options, and re-opens for a second attempt', async () => {
    const a = padImage(makeWebpHeader(), 1_500_001);
    const b = padImage(makeJpegHeader(), 2_000_000);
    const m = makePng(16, 16);
    const req = base({
      endpoint: 'edits',
      n: 3,
      nGiven: true,
      options: { size: 'auto' },
      images: [await spoolInput(a), await spoolInput(b)],
      mask: await spoolInput(m),
    });
    const body = buildUpstreamBody(req);
    const expected = {
      model: 'gpt-image-2',
      prompt: 'p',
      n: 3,
      size: 'auto',
      images: [{ image_url: `data:image/webp;base64,${a.toString('base64')}` }, { image_url: `data:image/jpeg;base64,${b.toString('base64')}` }],
      mask: { image_url: `data:image/png;base64,${m.toString('base64')}` },
    };
    await expectBody(body, expected);
    await expectBody(body, expected);
  });

  it('fails the stream when a spooled file is not the length it promised', async () => {
    const real = await spool.spoolFile(Readable.from([makePng(4, 4)]), 'image');
    const lying: SpooledFile = { path: real.path, bytes: real.bytes + 3, openRaw: () => real.openRaw() };
    const body = buildUpstreamBody(base({ endpoint: 'edits', images: [{ kind: 'spooled', mime: 'image/png', bytes: lying.bytes, file: lying }] }));
    await expect(drain(body)).rejects.toThrow(/changed size/);
  });

  it('closes the spooled file stream when the consumer stops early', async () => {
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i += 1) yield Buffer.alloc(3000, i);
      })(),
    );
    const file: SpooledFile = { path: '/nonexistent', bytes: 3_000_000, openRaw: () => source };
    const stream = buildUpstreamBody(base({ endpoint: 'edits', images: [{ kind: 'spooled', mime: 'image/png', bytes: file.bytes, file }] })).open();
    let seen = 0;
    for await (const chunk of stream) {
      seen += (chunk as Buffer).length;
      if (seen > 100_000) break;
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.destroyed).toBe(true);
  });
});

describe('buildResponsesUpstreamBody', () => {
  it('a generation: the host model, the prompt as input_text, the image tool with the options and partial_images', async () => {
    const req = base({ prompt: 'a "quoted" fox', options: { size: '1024x1536', quality: 'high' }, stream: true, partialImages: 2 });
    await expectBody(buildResponsesUpstreamBody(req, 'host-model'), {
      model: 'host-model',
      instructions: '',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a "quoted" fox' }] }],
      tools: [{ type: 'image_generation', action: 'generate', model: 'gpt-image-2', size: '1024x1536', quality: 'high', partial_images: 2 }],
      tool_choice: { type: 'image_generation' },
      store: false,
      stream: true,
    });
  });

  it('an edit: spooled images as input_image parts, the mask on the tool, re-openable', async () => {
    const a = padImage(makeWebpHeader(), 300_001);
    const m = makePng(16, 16);
    const req = base({
      endpoint: 'edits',
      images: [await spoolInput(a), { kind: 'url', url: 'https://example.com/b.png' }],
      mask: await spoolInput(m),
      stream: true,
      partialImages: 1,
    });
    const body = buildResponsesUpstreamBody(req, 'host');
    const expected = {
      model: 'host',
      instructions: '',
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'p' },
            { type: 'input_image', image_url: `data:image/webp;base64,${a.toString('base64')}` },
            { type: 'input_image', image_url: 'https://example.com/b.png' },
          ],
        },
      ],
      tools: [
        {
          type: 'image_generation',
          action: 'edit',
          model: 'gpt-image-2',
          partial_images: 1,
          input_image_mask: { image_url: `data:image/png;base64,${m.toString('base64')}` },
        },
      ],
      tool_choice: { type: 'image_generation' },
      store: false,
      stream: true,
    };
    await expectBody(body, expected);
    await expectBody(body, expected);
  });
});
