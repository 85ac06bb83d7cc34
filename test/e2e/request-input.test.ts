import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINT_ALIASES } from '../../src/images/endpoint-aliases.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng, makeWebpHeader, padImage, toDataUrl } from '../support/images.js';

let h: GatewayHarness;
let secret: string;
const MAX_FILE = 64 * 1024;
const MAX_TOTAL = 100 * 1024;

beforeAll(async () => {
  h = await startGatewayHarness({
    env: {
      MAX_UPLOAD_FILE_BYTES: String(MAX_FILE),
      MAX_UPLOAD_TOTAL_BYTES: String(MAX_TOTAL),
      MAX_JSON_BODY_BYTES: String(256 * 1024),
      BODY_READ_TIMEOUT_MS: '1500',
    },
  });
  await h.importAccount('in-1');
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };
const auth = () => ({ authorization: `Bearer ${secret}` });
const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.gatewayUrl}${path}`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const postForm = (form: FormData) => fetch(`${h.gatewayUrl}/v1/images/edits`, { method: 'POST', headers: auth(), body: form });
const blob = (bytes: Buffer, type = 'image/png') => new Blob([new Uint8Array(bytes)], { type });

describe('paths, methods and content types', () => {
  it.each(Object.keys(ENDPOINT_ALIASES))('serves alias %s', async (path) => {
    const body =
      ENDPOINT_ALIASES[path as keyof typeof ENDPOINT_ALIASES] === 'edits' ? { prompt: 'p', images: [toDataUrl('png', makePng(2, 2))] } : { prompt: 'p' };
    expect((await postJson(path, body)).status).toBe(200);
  });

  it.each(['/v1/responses', '/v1/images/generations/', '/V1/images/generations', '/api/llm-gateway/images/generations', '/v1/images/variations'])(
    '404 for %s, OpenAI-shaped, with a request id',
    async (path) => {
      const res = await postJson(path, { prompt: 'p' });
      expect(res.status).toBe(404);
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      expect(((await res.json()) as ErrorBody).error).toEqual({
        message: 'unsupported image gateway path',
        type: 'not_found_error',
        param: null,
        code: 'unsupported_path',
      });
    },
  );

  it.each([
    ['/images/generations', '/v1/images/generations'],
    ['/images/edits?user=someone', '/v1/images/edits'],
    ['/models', '/v1/models'],
  ])('404 for %s without /v1 suggests %s (the path only, never the query)', async (path, suggested) => {
    const res = await postJson(path, { prompt: 'p' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error).toEqual({
      message: `unsupported image gateway path; did you mean ${suggested}?`,
      type: 'not_found_error',
      param: null,
      code: 'unsupported_path',
    });
  });

  it('405 with Allow: POST for other methods, before auth', async () => {
    const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('415 for a wrong content type, before auth', async () => {
    const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(res.status).toBe(415);
    const multipartOnGenerations = await fetch(`${h.gatewayUrl}/v1/images/generations`, { method: 'POST', headers: auth(), body: new FormData() });
    expect(multipartOnGenerations.status).toBe(415);
  });

  it('401 before the body is looked at', async () => {
    const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as ErrorBody).error.message).toBe('missing bearer token');
  });

  it('400 for invalid JSON and field errors name the param', async () => {
    expect(((await (await postJson('/v1/images/generations', '{"prompt": ')).json()) as ErrorBody).error.code).toBe('invalid_json');
    const raw = await postJson('/v1/images/generations', '{"prompt":"p","n":2.0}');
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as ErrorBody).error).toMatchObject({ message: 'n must be an integer', param: 'n' });
    const size = await postJson('/v1/images/generations', { prompt: 'p', size: '1000x1000' });
    expect(((await size.json()) as ErrorBody).error).toMatchObject({ param: 'size', code: 'unsupported_value' });
  });

  it('stream: true answers an event stream (test/e2e/stream.test.ts has the details)', async () => {
    const res = await postJson('/v1/images/generations', { prompt: 'p', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toContain('event: image_generation.completed');
  });
});

describe('JSON edits', () => {
  it('accepts strings and {image_url} objects, forwarding both as objects', async () => {
    const before = h.fake.requests.length;
    const res = await postJson('/v1/images/edits', {
      prompt: 'p',
      images: [toDataUrl('png', makePng(3, 3)), { image_url: toDataUrl('webp', padImage(makeWebpHeader(), 40)) }, 'https://example.com/a.png'],
      mask: { image_url: toDataUrl('png', makePng(3, 3)) },
    });
    expect(res.status).toBe(200);
    const sent = h.fake.requests[before]!.body!;
    expect(sent.images!.map((i) => [i.kind, i.mime])).toEqual([
      ['data_url', 'image/png'],
      ['data_url', 'image/webp'],
      ['url', null],
    ]);
    expect(sent.mask).toMatchObject({ kind: 'data_url', mime: 'image/png' });
  });

  it('refuses file ids and data URLs whose bytes are not the declared image', async () => {
    const fileId = await postJson('/v1/images/edits', { prompt: 'p', images: [{ file_id: 'file-1' }] });
    expect(((await fileId.json()) as ErrorBody).error.code).toBe('file_id_not_supported');
    const lying = await postJson('/v1/images/edits', { prompt: 'p', images: [`data:image/png;base64,${Buffer.from('GIF89a-not-a-png').toString('base64')}`] });
    expect(lying.status).toBe(400);
    expect(((await lying.json()) as ErrorBody).error.code).toBe('invalid_image');
  });

  it('413 for a JSON body over the limit', async () => {
    const res = await postJson('/v1/images/edits', { prompt: 'p', images: [toDataUrl('png', padImage(makePng(1, 1), 300 * 1024))] });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe('body_too_large');
  });
});

describe('multipart edits', () => {
  it('keeps image[] order and forwards the mask', async () => {
    const files = [makePng(5, 5), makePng(9, 9), makePng(1, 1)];
    const form = new FormData();
    form.append('prompt', 'p');
    form.append('n', '1');
    for (const [i, f] of files.entries()) form.append('image[]', blob(f), `i${i}.png`);
    const mask = makePng(5, 5);
    form.append('mask', blob(mask), 'mask.png');
    const before = h.fake.requests.length;
    const res = await postForm(form);
    expect(res.status).toBe(200);
    const sent = h.fake.requests[before]!.body!;
    expect(sent.images!.map((i) => i.bytes)).toEqual(files.map((f) => f.length));
    expect(sent.mask).toMatchObject({ mime: 'image/png', bytes: mask.length });
    expect(sent.fields).toMatchObject({ n: 1, model: 'gpt-image-2' });
  });

  it.each([
    ['no boundary', 'multipart/form-data', '--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\np\r\n--x--\r\n'],
    [
      'a truncated body',
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\np\r\n--x\r\nContent-Disposition: form-da',
    ],
    [
      'a JSON part that does not parse',
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="prompt"\r\nContent-Type: application/json\r\n\r\n{bad\r\n--x--\r\n',
    ],
    ['a __proto__ part', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\np\r\n--x--\r\n'],
  ])('a malformed multipart body (%s) is a 400, never a 500', async (_name, contentType, body) => {
    const res = await fetch(`${h.gatewayUrl}/v1/images/edits`, { method: 'POST', headers: { ...auth(), 'content-type': contentType }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({ type: 'invalid_request_error', message: 'invalid multipart body' });
  });

  it('judges the file type by its bytes, not its name or declared type', async () => {
    const form = new FormData();
    form.append('prompt', 'p');
    form.append('image', blob(Buffer.from('just text, named png'), 'image/png'), 'photo.png');
    const res = await postForm(form);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_image');
  });

  it('413 for a file over the per-file limit and for uploads over the total', async () => {
    const big = new FormData();
    big.append('prompt', 'p');
    big.append('image', blob(padImage(makePng(1, 1), MAX_FILE + 1)), 'big.png');
    expect((await postForm(big)).status).toBe(413);
    const many = new FormData();
    many.append('prompt', 'p');
    for (let i = 0; i < 3; i += 1) many.append('image[]', blob(padImage(makePng(1, 1), 40 * 1024)), `m${i}.png`);
    const res = await postForm(many);
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe('body_too_large');
  });
});

describe("up to 16 input images by default (OpenAI's limit)", () => {
  const png = makePng(2, 2);

  it('JSON: 16 images go upstream in order; 17 are refused', async () => {
    const images = Array.from({ length: 16 }, (_, i) => toDataUrl('png', padImage(png, png.length + i)));
    const before = h.fake.requests.length;
    expect((await postJson('/v1/images/edits', { prompt: 'p', images })).status).toBe(200);
    expect(h.fake.requests[before]!.body!.images!.map((i) => i.bytes)).toEqual(images.map((_, i) => png.length + i));
    const refused = await postJson('/v1/images/edits', { prompt: 'p', images: [...images, images[0]] });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as ErrorBody).error).toMatchObject({ param: 'images', message: 'images must contain between 1 and 16 entries' });
  });

  it('multipart: 16 files go upstream; a 17th is refused', async () => {
    const form = (count: number) => {
      const f = new FormData();
      f.append('prompt', 'p');
      for (let i = 0; i < count; i++) f.append('image[]', blob(png), `${i}.png`);
      return f;
    };
    const before = h.fake.requests.length;
    expect((await postForm(form(16))).status).toBe(200);
    expect(h.fake.requests[before]!.body!.images).toHaveLength(16);
    const refused = await postForm(form(17));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as ErrorBody).error.param).toBe('image');
  });
});

describe('slow uploads', () => {
  it.each(['application/json', 'multipart/form-data; boundary=x'])('a %s body that stalls is cut after BODY_READ_TIMEOUT_MS', async (contentType) => {
    const { hostname: host, port } = new URL(h.gatewayUrl);
    const socket = connect({ host, port: Number(port) });
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    const started = Date.now();
    socket.write(
      `POST /v1/images/edits HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${secret}\r\nContent-Type: ${contentType}\r\nContent-Length: 100000\r\n\r\n{"prompt":"slo`,
    );
    const closedAt = await closed;
    expect(closedAt - started).toBeGreaterThanOrEqual(1_400);
    expect(closedAt - started).toBeLessThan(5_000);
  });

  it('a body sent in time is not affected, and keep-alive requests do not pile up listeners', async () => {
    for (let i = 0; i < 15; i += 1) expect((await postJson('/v1/images/generations', { prompt: `p${i}` })).status).toBe(200);
  });
});

describe('health', () => {
  it('healthz and readyz', async () => {
    const health = await fetch(`${h.gatewayUrl}/healthz`);
    expect(await health.text()).toBe('ok');
    expect((await fetch(`${h.gatewayUrl}/readyz`)).status).toBe(200);
  });
});
