import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { ResponseMetrics } from '../../../src/observe/image-log-event.js';
import { MAX_ECHO_CHARS } from '../../../src/observe/image-response-sink.js';
import { MAX_CAPTURE_BYTES, MAX_DEPTH } from '../../../src/json/json-stream-lexer.js';
import { createResponseTap, type ResponseTapOptions } from '../../../src/observe/response-tap.js';
import { makeJpegHeader, makePng, makeWebpHeader } from '../../support/images.js';

const B64_OPTS: ResponseTapOptions = { responseFormat: 'b64_json', urlFallbackMime: 'image/png', maxBytes: 1 << 30 };
const URL_OPTS: ResponseTapOptions = { ...B64_OPTS, responseFormat: 'url' };

/** Deterministic PRNG (mulberry32) so random splits are reproducible. */
function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function splitBody(body: Buffer, split: 'whole' | 'bytes' | number): Buffer[] {
  if (split === 'whole') return [body];
  if (split === 'bytes') return Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1));
  const random = createRandom(split);
  const chunks: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const size = 1 + Math.floor(random() * 40);
    chunks.push(body.subarray(i, i + size));
    i += size;
  }
  return chunks;
}

async function runTap(body: string | Buffer, opts: ResponseTapOptions = B64_OPTS, split: 'whole' | 'bytes' | number = 'whole') {
  const tap = createResponseTap(opts);
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(splitBody(Buffer.from(body), split)), tap.stream, sink);
  return { output: Buffer.concat(out).toString('utf8'), metrics: tap.metrics(), maxHeld: tap.maxHeldChars() };
}

const NULL_FACTS = { imageCount: null, imageBytes: 0, usage: null, size: null, quality: null, outputFormat: null, background: null };

/** Reference figures computed the slow way, from the parsed body (what the original did with serde). */
function referenceMetrics(body: string): Omit<ResponseMetrics, 'bodyBytes'> {
  const v = JSON.parse(body) as {
    data?: { b64_json?: string }[];
    usage?: { input_tokens?: number; output_tokens?: number; total_tokens?: number; tokens?: number; input_tokens_details?: { image_tokens?: number } };
    size?: string;
    quality?: string;
    output_format?: string;
    background?: string;
  };
  const bytes = (s: string) => Math.floor((s.length * 3) / 4) - (s.length - s.replace(/=+$/, '').length);
  return {
    imageCount: v.data?.length ?? null,
    imageBytes: (v.data ?? []).reduce((sum, d) => sum + (typeof d.b64_json === 'string' ? bytes(d.b64_json) : 0), 0),
    usage: v.usage
      ? {
          inputTokens: v.usage.input_tokens ?? null,
          outputTokens: v.usage.output_tokens ?? null,
          totalTokens: v.usage.total_tokens ?? v.usage.tokens ?? null,
          imageInputTokens: v.usage.input_tokens_details?.image_tokens ?? null,
        }
      : null,
    size: v.size ?? null,
    quality: v.quality ?? null,
    outputFormat: v.output_format ?? null,
    background: v.background ?? null,
  };
}

const imageB64 = (n: number, salt: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + salt) % 256)).toString('base64');

/** Shaped like the captured Codex response, with real base64 of 1/2/0 padding. */
const REALISTIC = JSON.stringify({
  created: 1778832973,
  background: 'opaque',
  data: [{ b64_json: imageB64(3001, 1) }, { b64_json: imageB64(3002, 2), revised_prompt: 'a "fox" \\ in a field é 😀' }, { b64_json: imageB64(3000, 3) }],
  output_format: 'png',
  quality: 'medium',
  size: '1024x1536',
  usage: {
    input_tokens: 1474,
    input_tokens_details: { image_tokens: 1457, text_tokens: 17 },
    output_tokens: 1372,
    output_tokens_details: { image_tokens: 1372, text_tokens: 0 },
    total_tokens: 2846,
  },
});
const REALISTIC_PRETTY = JSON.stringify(JSON.parse(REALISTIC), null, 2);

describe('response tap metrics', () => {
  it('QUJDRA== + QUI= → 2 images, 6 bytes; usage.total_tokens 42', async () => {
    const body = '{"data":[{"b64_json":"QUJDRA=="},{"b64_json":"QUI="}],"usage":{"total_tokens":42}}';
    const { output, metrics } = await runTap(body);
    expect(output).toBe(body);
    expect(metrics).toEqual({
      ...NULL_FACTS,
      bodyBytes: body.length,
      imageCount: 2,
      imageBytes: 6,
      usage: { inputTokens: null, outputTokens: null, totalTokens: 42, imageInputTokens: null },
    });
  });

  it.each([REALISTIC, REALISTIC_PRETTY])('matches the parsed reference and passes bytes unchanged (%#)', async (body) => {
    const { output, metrics } = await runTap(body);
    expect(output).toBe(body);
    expect(metrics).toEqual({ bodyBytes: Buffer.byteLength(body), ...referenceMetrics(body) });
    expect(metrics.imageBytes).toBe(3001 + 3002 + 3000);
  });

  it.each(['bytes', 1, 2, 3, 4, 5] as const)('gives identical output and metrics for split %s (both formats)', async (split) => {
    for (const opts of [B64_OPTS, URL_OPTS]) {
      for (const body of [REALISTIC, REALISTIC_PRETTY]) {
        const whole = await runTap(body, opts);
        const pieces = await runTap(body, opts, split);
        expect(pieces.output).toBe(whole.output);
        expect(pieces.metrics).toEqual(whole.metrics);
      }
    }
  });

  it('decodes escaped quotes and unicode escapes, split anywhere', async () => {
    const body = String.raw`{"size":"10\"24\u0078","quality":"h\u0069gh","data":[{"revised_prompt":"say \"hi\" \\ \ud83d\ude00","b64_json":"QUJD\u0052A\u003d\u003d"},{"b64_json":"QU\/D"}],"usage":{"tokens":7}}`;
    for (const split of ['whole', 'bytes', 7] as const) {
      const { output, metrics } = await runTap(body, B64_OPTS, split);
      expect(output).toBe(body);
      expect(metrics).toMatchObject({ size: '10"24x', quality: 'high', imageCount: 2, imageBytes: 4 + 3, usage: { totalTokens: 7 } });
    }
  });

  it('ignores data, usage and options nested deeper than the top level', async () => {
    const body =
      '{"meta":{"data":[1,2,3],"usage":{"total_tokens":5},"size":"big"},"data":[{"b64_json":"QUI=","extra":{"data":[{"b64_json":"QUJDRA=="}],"b64_json":"QUJDRA=="}}],"x":[{"size":"s"}],"size":"1024x1024"}';
    const { metrics } = await runTap(body);
    expect(metrics).toMatchObject({ imageCount: 1, imageBytes: 2, usage: null, size: '1024x1024' });
  });

  it.each([
    { name: 'usage.tokens fallback', body: '{"usage":{"tokens":7}}', usage: { inputTokens: null, outputTokens: null, totalTokens: 7, imageInputTokens: null } },
    {
      name: 'total_tokens wins over tokens',
      body: '{"usage":{"tokens":7,"total_tokens":9}}',
      usage: { inputTokens: null, outputTokens: null, totalTokens: 9, imageInputTokens: null },
    },
    {
      name: 'exponent integer',
      body: '{"usage":{"total_tokens":1e3,"input_tokens":4.0}}',
      usage: { inputTokens: 4, outputTokens: null, totalTokens: 1000, imageInputTokens: null },
    },
    {
      name: 'negative is unknown',
      body: '{"usage":{"total_tokens":-1}}',
      usage: { inputTokens: null, outputTokens: null, totalTokens: null, imageInputTokens: null },
    },
    {
      name: 'fraction is unknown',
      body: '{"usage":{"total_tokens":1.5}}',
      usage: { inputTokens: null, outputTokens: null, totalTokens: null, imageInputTokens: null },
    },
    {
      name: 'string is unknown',
      body: '{"usage":{"total_tokens":"42"}}',
      usage: { inputTokens: null, outputTokens: null, totalTokens: null, imageInputTokens: null },
    },
    {
      name: 'image input tokens from input_tokens_details',
      body: '{"usage":{"input_tokens":30,"input_tokens_details":{"text_tokens":12,"image_tokens":18},"output_tokens":5}}',
      usage: { inputTokens: 30, outputTokens: 5, totalTokens: null, imageInputTokens: 18 },
    },
    { name: 'usage null', body: '{"usage":null}', usage: null },
    { name: 'no usage', body: '{"data":[]}', usage: null },
  ])('usage: $name', async ({ body, usage }) => {
    expect((await runTap(body)).metrics.usage).toEqual(usage);
  });

  it.each([
    { body: `{"size":"${'x'.repeat(MAX_ECHO_CHARS)}"}`, size: 'x'.repeat(MAX_ECHO_CHARS) },
    { body: `{"size":"${'x'.repeat(MAX_ECHO_CHARS + 1)}"}`, size: null },
    { body: `{"size":"${'x'.repeat(5_000)}"}`, size: null },
    { body: '{"size":1024}', size: null },
    { body: '{"size":"a","size":"b"}', size: 'b' },
  ])('echoed strings are capped at MAX_ECHO_CHARS (%#)', async ({ body, size }) => {
    expect((await runTap(body)).metrics.size).toBe(size);
  });

  it.each([
    '<html>bad gateway</html>',
    '{"data":[{"b64_json":"QUI=',
    '{"data":[]} x',
    '{"data":[],}',
    '{"a" 1}',
    '{"a":tru}',
    '{"a":01}',
    '{"a":"\\x"}',
    '{"a":"\\u12G4"}',
    '',
  ])('passes invalid JSON through unchanged and reports nulls: %j', async (body) => {
    for (const opts of [B64_OPTS, URL_OPTS]) {
      const { output, metrics } = await runTap(body, opts, 'bytes');
      // A rewrite already streamed before the body turned out truncated cannot be taken back.
      expect(output).toBe(opts === URL_OPTS ? body.replaceAll('"b64_json":"', '"url":"data:image/png;base64,') : body);
      expect(metrics).toEqual({ ...NULL_FACTS, bodyBytes: Buffer.byteLength(body) });
    }
  });

  it.each(['{"data":[]}  \n', '[{"data":[1]}]', '42', 'null'])('accepts valid near-misses: %j', async (body) => {
    const { metrics } = await runTap(body, B64_OPTS, 'bytes');
    expect(metrics.imageCount).toBe(body.startsWith('{') ? 0 : null);
  });
});

describe('response tap mid-stream', () => {
  it('reports what was learned so far while a valid body is still arriving', async () => {
    const tap = createResponseTap(B64_OPTS);
    tap.stream.resume();
    tap.stream.write('{"size":"1024x1024","data":[{"b64_json":"QUI="},{"b64_j');
    await new Promise((r) => setImmediate(r));
    expect(tap.metrics()).toMatchObject({ imageCount: 2, imageBytes: 2, size: '1024x1024', usage: null });
  });

  it('reports nulls as soon as the body proves invalid', async () => {
    const tap = createResponseTap(B64_OPTS);
    tap.stream.resume();
    tap.stream.write('{"data":[{"b64_json":"QUI="},]');
    await new Promise((r) => setImmediate(r));
    expect(tap.metrics()).toMatchObject({ imageCount: null, imageBytes: 0 });
  });

  it('treats nesting deeper than MAX_DEPTH as not JSON and passes it through', async () => {
    const body = `{"data":[],"x":${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}}`;
    const { output, metrics } = await runTap(body);
    expect(output).toBe(body);
    expect(metrics.imageCount).toBeNull();
  });
});

describe('response tap url rewrite', () => {
  it('turns data[i].b64_json into a data URL and leaves every other byte alone', async () => {
    for (const split of ['whole', 'bytes', 11] as const) {
      const { output, metrics } = await runTap(REALISTIC, { ...URL_OPTS, urlFallbackMime: 'image/webp' }, split);
      const original = JSON.parse(REALISTIC) as { data: { b64_json: string; revised_prompt?: string }[] };
      const expected = {
        ...original,
        data: original.data.map(({ b64_json, ...rest }) => ({ url: `data:image/webp;base64,${b64_json}`, ...rest })),
      };
      expect(JSON.parse(output)).toEqual(expected);
      expect(output).toBe(REALISTIC.replaceAll('"b64_json":"', '"url":"data:image/webp;base64,'));
      expect(metrics.imageBytes).toBe(3001 + 3002 + 3000);
    }
  });

  it('types each data URL by the image bytes, not by the requested format, whatever the chunking', async () => {
    const png = makePng(2, 2).toString('base64');
    const jpeg = makeJpegHeader().toString('base64');
    const webp = makeWebpHeader().toString('base64');
    // A slash-escaping encoder writes '/' as '\/' (JPEG base64 starts with '/9j/').
    const body = JSON.stringify({ data: [{ b64_json: png }, { b64_json: jpeg }, { b64_json: webp }, { b64_json: 'QUJD' }] }).replace(
      jpeg,
      jpeg.replaceAll('/', '\\/'),
    );
    for (const split of ['whole', 'bytes', 3, 17] as const) {
      const { output } = await runTap(body, { ...URL_OPTS, urlFallbackMime: 'image/webp' }, split);
      const urls = (JSON.parse(output) as { data: { url: string }[] }).data.map((d) => d.url.slice(0, d.url.indexOf(',')));
      expect(urls, String(split)).toEqual(['data:image/png;base64', 'data:image/jpeg;base64', 'data:image/webp;base64', 'data:image/webp;base64']);
    }
  });

  it('rewrites only data items, keeps long and nested keys, and handles escaped key spellings', async () => {
    const longKey = 'k'.repeat(400);
    const body = `{"b64_json":"QUI=","data":[{"${longKey}":1,"b64\\u005fjson":"QUI=","extra":{"b64_json":"QUI="}}]}`;
    const { output } = await runTap(body, URL_OPTS, 'bytes');
    expect(output).toBe(`{"b64_json":"QUI=","data":[{"${longKey}":1,"url":"data:image/png;base64,QUI=","extra":{"b64_json":"QUI="}}]}`);
  });

  it('keeps held bytes tiny even for long keys', async () => {
    const body = `{"data":[{"${'k'.repeat(100_000)}":1,"b64_json":"QUI="}]}`;
    const { output, maxHeld } = await runTap(body, URL_OPTS, 1);
    expect(output).toBe(body.replace('"b64_json":"', '"url":"data:image/png;base64,'));
    // At most one capped capture plus the same bytes held for a possible key rewrite.
    expect(maxHeld).toBeLessThanOrEqual(2 * MAX_CAPTURE_BYTES + 64);
  });
});

describe('response tap limits', () => {
  it('streams a ~20 MB base64 body holding only a few bytes', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'A');
    const chunks = 320; // 20 MiB of base64
    async function* body() {
      yield Buffer.from('{"created":1,"data":[{"b64_json":"');
      for (let i = 0; i < chunks; i++) yield chunk;
      yield Buffer.from('QQ=="}],"usage":{"total_tokens":5}}');
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const before = used();
    const tap = createResponseTap(URL_OPTS);
    let outBytes = 0;
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        outBytes += c.length;
        cb();
      },
    });
    await pipeline(Readable.from(body()), tap.stream, sink);
    gc?.();
    const b64Chars = chunks * chunk.length + 4;
    expect(tap.metrics()).toMatchObject({ imageCount: 1, imageBytes: (b64Chars * 3) / 4 - 2, usage: { totalTokens: 5 } });
    expect(outBytes).toBe(tap.metrics().bodyBytes - '"b64_json"'.length + '"url"'.length + 'data:image/png;base64,'.length);
    expect(tap.maxHeldChars()).toBeLessThan(64);
    // Only with --expose-gc (NODE_OPTIONS=--expose-gc) is the heap figure stable enough to assert.
    if (gc) expect(used() - before).toBeLessThan(4 * 1024 * 1024);
  });

  const SMALL = '{"data":[],"x":"123"}';
  it.each([
    { maxBytes: SMALL.length - 1, fails: true },
    { maxBytes: SMALL.length, fails: false },
  ])('maxBytes $maxBytes on a 21-byte body → fails: $fails', async ({ maxBytes, fails }) => {
    const run = runTap(SMALL, { ...B64_OPTS, maxBytes }, 5);
    if (fails) await expect(run).rejects.toMatchObject({ code: 'UPSTREAM_RESPONSE_TOO_LARGE' });
    else await expect(run).resolves.toMatchObject({ metrics: { imageCount: 0 } });
  });

  it.each(['image/png"', 'image/png;x=1', 'image', '', 'image/png\\'])('rejects unsafe urlFallbackMime %j', (urlFallbackMime) => {
    expect(() => createResponseTap({ ...URL_OPTS, urlFallbackMime })).toThrow(TypeError);
  });

  it.each([0, -1, Number.NaN])('rejects maxBytes %s', (maxBytes) => {
    expect(() => createResponseTap({ ...B64_OPTS, maxBytes })).toThrow(TypeError);
  });
});
