import { PassThrough, type Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { readRequestBody, readRequestBytes } from '../../../src/http/request-body.js';

/** A request with the given Content-Length (none: chunked) whose body-budget charges are recorded. */
function fakeRequest(contentLength: number | null) {
  const charged: number[] = [];
  const req = {
    headers: contentLength === null ? {} : { 'content-length': String(contentLength) },
    chargeBodyBytes: (n: number) => charged.push(n),
  } as unknown as FastifyRequest;
  return { req, charged };
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** The two readers side by side: they must keep the same rules. */
const READERS: Record<string, (req: FastifyRequest, payload: Readable, maxBytes: number) => Promise<Buffer>> = {
  'readRequestBody (chunks)': async (req, payload, maxBytes) => {
    const chunks: Buffer[] = [];
    for await (const chunk of readRequestBody(req, payload, maxBytes)) chunks.push(chunk);
    return Buffer.concat(chunks);
  },
  'readRequestBytes (whole)': readRequestBytes,
};

describe.each(Object.entries(READERS))('%s', (_name, read) => {
  it('reads the body, charging every byte to the body budget as it arrives', async () => {
    const { req, charged } = fakeRequest(null);
    const body = new PassThrough();
    const result = read(req, body, 100);
    body.write('{"prompt":');
    body.end('"a fox"}');
    expect((await result).toString()).toBe('{"prompt":"a fox"}');
    expect(sum(charged)).toBe(18); // in however many reads the stream gave
  });

  it('refuses a declared Content-Length past the limit before reading anything', async () => {
    const { req, charged } = fakeRequest(101);
    const body = new PassThrough();
    body.end('x'.repeat(101));
    await expect(read(req, body, 100)).rejects.toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    expect(charged).toEqual([]);
    expect(body.readableLength).toBe(101);
  });

  it('stops at the chunk that takes an undeclared body past the limit, leaving the stream open for the answer', async () => {
    const { req, charged } = fakeRequest(null);
    const body = new PassThrough();
    const result = read(req, body, 100);
    body.write('x'.repeat(60));
    body.write('x'.repeat(60));
    await expect(result).rejects.toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    expect(sum(charged)).toBeLessThanOrEqual(100); // never the bytes past the limit
    expect(body.destroyed).toBe(false);
  });

  it('refuses a body shorter than its Content-Length', async () => {
    const { req } = fakeRequest(20);
    const body = new PassThrough();
    body.end('{"prompt":"a"}');
    await expect(read(req, body, 100)).rejects.toMatchObject({ code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' });
  });

  it('a body cut off by its client is the client error 400', async () => {
    const { req } = fakeRequest(50);
    const body = new PassThrough();
    const result = read(req, body, 100);
    body.write('{"prompt":');
    body.destroy(new Error('aborted'));
    await expect(result).rejects.toMatchObject({ message: 'aborted', statusCode: 400 });
  });
});
