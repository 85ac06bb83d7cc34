import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { HostedImageStore } from '../../../src/observe/hosted-image-replacer.js';
import { createImageEventTap } from '../../../src/observe/image-event-tap.js';
import { createResponseTap, type ResponseTapOptions } from '../../../src/observe/response-tap.js';
import { makeJpegHeader, makePng } from '../../support/images.js';

// The lexer crosses a string with two remembered native searches (next quote, next backslash) per
// chunk. These tests cut one body in two at every byte position, so that every string boundary, every
// escape (`\"`, `\\`, `\/`, `\uXXXX`) and every byte of a multi-byte UTF-8 character falls on a chunk
// edge once, and check that each tap says and emits exactly what it does for the whole body.

const PNG = makePng(3, 2);
const JPEG = Buffer.concat([makeJpegHeader(), Buffer.from([1, 2, 3, 250, 251, 252, 253])]);
/** `\/` escapes inside base64, as some encoders write it. */
const escapedSlashes = (b64: string) => b64.replaceAll('/', '\\/');

const BODY = [
  '{"created":1,"background":"op\\u0061que",',
  '"data":[',
  `{"b64_json":"${PNG.toString('base64')}","revised_prompt":"a \\"fox\\" \\\\ é 😀 \\u00e9\\n"},`,
  `{"revised_prompt":"ünïcödé \\"quoted\\"","b64_json":"${escapedSlashes(JPEG.toString('base64'))}"}`,
  '],"output_format":"png","quality":"h\\u0069gh","size":"1024x1024",',
  '"usage":{"input_tokens":17,"input_tokens_details":{"image_tokens":3,"text_tokens":14},"output_tokens":1372,"total_tokens":1389}}',
].join('');

/** The body cut at `at`: two chunks (the first empty when `at` is 0). */
const cutAt = (body: Buffer, at: number): Buffer[] => [body.subarray(0, at), body.subarray(at)];

async function collect(stream: NodeJS.ReadWriteStream, chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(chunks), stream, sink);
  return Buffer.concat(out).toString('utf8');
}

function memoryStore(): { store: HostedImageStore; stored: Buffer[] } {
  const stored: Buffer[] = [];
  return {
    stored,
    store: {
      begin() {
        const index = stored.push(Buffer.alloc(0)) - 1;
        return {
          url: `https://img.example/r/${index}`,
          write: (bytes) => {
            stored[index] = Buffer.concat([stored[index]!, bytes]);
          },
          commit: async () => undefined,
        };
      },
    },
  };
}

const B64_OPTS: ResponseTapOptions = { responseFormat: 'b64_json', urlFallbackMime: 'image/png', maxBytes: 1 << 30 };

async function runResponseTap(opts: ResponseTapOptions, chunks: Buffer[]) {
  const tap = createResponseTap(opts);
  const output = await collect(tap.stream, chunks);
  return { output, metrics: tap.metrics() };
}

const bytes = Buffer.from(BODY);
const positions = Array.from({ length: bytes.length + 1 }, (_, at) => at);

describe('response taps cut at every byte position', () => {
  it('the fixture has escapes, multi-byte UTF-8 and escaped base64', () => {
    expect(JSON.parse(BODY)).toMatchObject({ background: 'opaque', quality: 'high' });
    for (const piece of ['\\"', '\\\\', '\\/', '\\u00', 'é', '😀']) expect(BODY).toContain(piece);
    expect(bytes.length).toBeGreaterThan(BODY.length); // multi-byte characters present
  });

  it('b64_json: passes every byte unchanged and reads the same facts', async () => {
    const whole = await runResponseTap(B64_OPTS, [bytes]);
    expect(whole.output).toBe(BODY);
    expect(whole.metrics).toEqual({
      bodyBytes: bytes.length,
      imageCount: 2,
      imageBytes: PNG.length + JPEG.length,
      usage: { inputTokens: 17, outputTokens: 1372, totalTokens: 1389, imageInputTokens: 3 },
      size: '1024x1024',
      quality: 'high',
      outputFormat: 'png',
      background: 'opaque',
    });
    for (const at of positions) expect(await runResponseTap(B64_OPTS, cutAt(bytes, at)), `cut at ${at}`).toEqual(whole);
  });

  it('url: rewrites to the same data URLs wherever the cut falls', async () => {
    const opts: ResponseTapOptions = { ...B64_OPTS, responseFormat: 'url' };
    const whole = await runResponseTap(opts, [bytes]);
    const parsed = JSON.parse(whole.output) as { data: { url: string }[] };
    expect(parsed.data.map((d) => d.url)).toEqual([`data:image/png;base64,${PNG.toString('base64')}`, `data:image/jpeg;base64,${JPEG.toString('base64')}`]);
    for (const at of positions) expect(await runResponseTap(opts, cutAt(bytes, at)), `cut at ${at}`).toEqual(whole);
  });

  it('hosted: stores the same decoded images and answers the same body wherever the cut falls', async () => {
    const run = async (chunks: Buffer[]) => {
      const { store, stored } = memoryStore();
      const result = await runResponseTap({ ...B64_OPTS, responseFormat: 'url', hosted: { store, fallbackType: 'image/png' } }, chunks);
      return { ...result, stored };
    };
    const whole = await run([bytes]);
    expect(whole.stored).toEqual([PNG, JPEG]);
    expect(whole.output).toContain('"url":"https://img.example/r/1"');
    for (const at of positions) expect(await run(cutAt(bytes, at)), `cut at ${at}`).toEqual(whole);
  });

  it('stream events: the same completed events wherever the cut falls', async () => {
    const run = async (chunks: Buffer[]) => {
      const tap = createImageEventTap({
        eventPrefix: 'image_generation',
        defaults: { size: null, quality: null, background: null, outputFormat: 'png' },
        maxBytes: 1 << 30,
        nowSeconds: () => 1_800_000_000,
      });
      return { output: await collect(tap.stream, chunks), metrics: tap.metrics(), events: tap.eventsWritten() };
    };
    const whole = await run([bytes]);
    expect(whole.events).toBe(2);
    expect(whole.output).toContain(`"b64_json":"${PNG.toString('base64')}"`);
    for (const at of positions) expect(await run(cutAt(bytes, at)), `cut at ${at}`).toEqual(whole);
  });

  it('a body that stops being JSON inside a string passes through untouched wherever the cut falls', async () => {
    const broken = Buffer.from(`${BODY.slice(0, BODY.indexOf('revised_prompt') + 20)}\\x${BODY.slice(BODY.indexOf('revised_prompt') + 20)}`);
    const whole = await runResponseTap(B64_OPTS, [broken]);
    expect(whole.output).toBe(broken.toString('utf8'));
    expect(whole.metrics.imageCount).toBeNull();
    for (let at = 0; at <= broken.length; at++) expect(await runResponseTap(B64_OPTS, cutAt(broken, at)), `cut at ${at}`).toEqual(whole);
  });
});
