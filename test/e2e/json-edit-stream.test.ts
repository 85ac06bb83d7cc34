import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng, makeWebpHeader, padImage, toDataUrl } from '../support/images.js';

const MiB = 1024 * 1024;
let h: GatewayHarness;
let secret: string;

beforeAll(async () => {
  h = await startGatewayHarness({ env: { MAX_JSON_BODY_BYTES: String(16 * MiB) } });
  await h.importAccount('stream-1');
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Posts `body` as a JSON edit, with a Content-Length or (as a stream of 100 KB pieces) chunked. */
function postEdit(body: string, chunked: boolean): Promise<Response> {
  const bytes = Buffer.from(body);
  const pieces = Array.from({ length: Math.ceil(bytes.length / 100_000) }, (_, i) => bytes.subarray(i * 100_000, (i + 1) * 100_000));
  return fetch(`${h.gatewayUrl}/v1/images/edits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: chunked ? (Readable.toWeb(Readable.from(pieces)) as ReadableStream) : bytes,
    ...(chunked ? { duplex: 'half' } : {}),
  } as RequestInit);
}

describe('JSON edits with multi-MB data URLs (parsed as they arrive, images spooled)', () => {
  it.each([
    ['with a Content-Length', false],
    ['chunked', true],
  ])('reach the upstream byte-identical, %s', async (_label, chunked) => {
    const image = toDataUrl('png', padImage(makePng(4, 4), 5 * MiB + 1));
    const mask = toDataUrl('webp', padImage(makeWebpHeader(), 2 * MiB));
    const before = h.fake.requests.length;
    const res = await postEdit(
      JSON.stringify({ prompt: 'p', images: [image, { image_url: 'https://example.com/a.png' }], mask: { image_url: mask } }),
      chunked,
    );
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    // What the gateway sends for these fields, in its own order: the data URLs exactly as the client sent them.
    const expected = JSON.stringify({
      model: 'gpt-image-2',
      prompt: 'p',
      images: [{ image_url: image }, { image_url: 'https://example.com/a.png' }],
      mask: { image_url: mask },
    });
    const sent = h.fake.requests[before]!;
    expect(sent.bodyBytes).toBe(Buffer.byteLength(expected));
    expect(sent.bodySha256).toBe(sha256(expected));
  });

  it('refuses an image whose bytes are not the declared type after streaming part of it, with the usual error', async () => {
    const before = h.fake.requests.length;
    const res = await postEdit(JSON.stringify({ prompt: 'p', images: [toDataUrl('webp', padImage(makePng(2, 2), 3 * MiB))] }), true);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: 'images[0] is not a valid PNG, JPEG or WebP image', type: 'invalid_request_error', param: 'images[0]', code: 'invalid_image' },
    });
    expect(h.fake.requests.length).toBe(before);
  });

  it('answers a chunked body past MAX_JSON_BODY_BYTES with a 413', async () => {
    const res = await postEdit(JSON.stringify({ prompt: 'p', images: [toDataUrl('png', padImage(makePng(2, 2), 13 * MiB))] }), true);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
  });
});
