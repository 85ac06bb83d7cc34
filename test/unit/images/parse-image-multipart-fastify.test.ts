import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testImageLimits } from '../../support/image-limits.js';
import { toOpenAIError } from '../../../src/errors/openai-shape.js';
import { createImageSpool } from '../../../src/images/image-spool.js';
import { parseImageMultipart } from '../../../src/images/parse-image-multipart.js';
import { makeJpegHeader, makePng, padImage } from '../../support/images.js';

/** The real @fastify/multipart parser feeding parseImageMultipart, through app.inject (no network). */

const MAX_FILE_BYTES = 200_000;
let dir: string;
let app: FastifyInstance;

type Part = { name: string; value: string } | { name: string; filename: string; type: string; bytes: Buffer };

function buildMultipart(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----cig${randomUUID()}`;
  const pieces = parts.flatMap((part) => {
    const disposition = 'filename' in part ? `form-data; name="${part.name}"; filename="${part.filename}"` : `form-data; name="${part.name}"`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${'type' in part ? `Content-Type: ${part.type}\r\n` : ''}\r\n`;
    return [Buffer.from(head), 'bytes' in part ? part.bytes : Buffer.from(part.value), Buffer.from('\r\n')];
  });
  const payload = Buffer.concat([...pieces, Buffer.from(`--${boundary}--\r\n`)]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-fastify-mp-'));
  app = Fastify();
  await app.register(multipart, { limits: { fileSize: MAX_FILE_BYTES, files: 10 } });
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = toOpenAIError(err);
    return reply.status(status).send(body);
  });
  app.post('/v1/images/edits', async (req) => {
    const spool = createImageSpool({ dir, maxFileBytes: MAX_FILE_BYTES, maxTotalBytes: 1_000_000 });
    const limits = { ...testImageLimits({ maxInputImages: 5 }), spool };
    const request = await parseImageMultipart(req.parts(), limits);
    try {
      const images = await Promise.all(
        request.images.map(async (input) => {
          if (input.kind !== 'spooled') throw new Error('expected spooled');
          const chunks: Buffer[] = [];
          for await (const chunk of input.file.openRaw()) chunks.push(chunk as Buffer);
          return { mime: input.mime, bytes: input.bytes, sha: sha(Buffer.concat(chunks)) };
        }),
      );
      return { n: request.n, prompt: request.prompt, images };
    } finally {
      await spool.cleanup();
    }
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('parseImageMultipart with @fastify/multipart', () => {
  it('parses what the OpenAI SDKs send: image[] files and text fields', async () => {
    const png = makePng(8, 8);
    const jpeg = padImage(makeJpegHeader(), 150_000);
    const { payload, headers } = buildMultipart([
      { name: 'prompt', value: 'add a hat' },
      { name: 'image[]', filename: 'a.png', type: 'image/png', bytes: png },
      { name: 'image[]', filename: 'upload', type: 'application/octet-stream', bytes: jpeg },
      { name: 'n', value: '2' },
    ]);
    const res = await app.inject({ method: 'POST', url: '/v1/images/edits', payload, headers });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      n: 2,
      prompt: 'add a hat',
      images: [
        { mime: 'image/png', bytes: png.length, sha: sha(png) },
        { mime: 'image/jpeg', bytes: jpeg.length, sha: sha(jpeg) },
      ],
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('answers 413 for a file past the limit and leaves no temporary file', async () => {
    const { payload, headers } = buildMultipart([
      { name: 'prompt', value: 'p' },
      { name: 'image', filename: 'a.png', type: 'image/png', bytes: padImage(makePng(2, 2), MAX_FILE_BYTES + 10) },
    ]);
    const res = await app.inject({ method: 'POST', url: '/v1/images/edits', payload, headers });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('body_too_large');
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    ['an unknown file field', [{ name: 'photo', filename: 'a.png', type: 'image/png', bytes: makePng(2, 2) }], 400, 'unknown_field'],
    ['a fake PNG', [{ name: 'image', filename: 'a.png', type: 'image/png', bytes: Buffer.from('not really a png') }], 400, 'invalid_image'],
    ['no image', [], 400, 'invalid_request'],
    [
      'n 2.0',
      [
        { name: 'image', filename: 'a.png', type: 'image/png', bytes: makePng(2, 2) },
        { name: 'n', value: '2.0' },
      ],
      400,
      'invalid_request',
    ],
  ] as const)('answers %s with an OpenAI error and leaves no temporary file', async (_label, parts, status, code) => {
    const { payload, headers } = buildMultipart([{ name: 'prompt', value: 'p' }, ...parts, { name: 'size', value: 'auto' }]);
    const res = await app.inject({ method: 'POST', url: '/v1/images/edits', payload, headers });
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
    expect(await readdir(dir)).toEqual([]);
  });
});
