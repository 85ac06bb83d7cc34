import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { ImageMime } from '../../../src/images/image-request.js';
import type { HostedImageStore } from '../../../src/observe/hosted-image-replacer.js';
import { createResponseTap } from '../../../src/observe/response-tap.js';
import { makeJpegHeader, makePng } from '../../support/images.js';
import { waitFor } from '../../support/wait-for.js';

interface Stored {
  url: string;
  bytes: Buffer;
  contentType: ImageMime | null;
  writes: number;
  commitCalled: boolean;
}

/** A store in memory: each upload gets url-N; `gate` (when given) holds every commit until it resolves; `fail` rejects them. */
function memoryStore(opts: { gate?: Promise<void>; fail?: Error } = {}): { store: HostedImageStore; stored: Stored[] } {
  const stored: Stored[] = [];
  const store: HostedImageStore = {
    begin() {
      const entry: Stored = {
        url: `https://img.example/v1/images/results/imgres_${stored.length}`,
        bytes: Buffer.alloc(0),
        contentType: null,
        writes: 0,
        commitCalled: false,
      };
      stored.push(entry);
      return {
        url: entry.url,
        write: (bytes) => {
          entry.bytes = Buffer.concat([entry.bytes, bytes]);
          entry.writes += 1;
        },
        commit: async (contentType) => {
          entry.commitCalled = true;
          await opts.gate;
          if (opts.fail) throw opts.fail;
          entry.contentType = contentType;
        },
      };
    },
  };
  return { store, stored };
}

/** Deterministic random chunk sizes 1..40 (mulberry32). */
function splitBody(body: Buffer, split: 'whole' | 'bytes' | number): Buffer[] {
  if (split === 'whole') return [body];
  if (split === 'bytes') return Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1));
  let a = split >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const chunks: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const size = 1 + Math.floor(random() * 40);
    chunks.push(body.subarray(i, i + size));
    i += size;
  }
  return chunks;
}

async function runHostedTap(body: string, store: HostedImageStore, split: 'whole' | 'bytes' | number = 'whole') {
  const tap = createResponseTap({ responseFormat: 'url', urlFallbackMime: 'image/webp', maxBytes: 1 << 30, hosted: { store, fallbackType: 'image/webp' } });
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(splitBody(Buffer.from(body), split)), tap.stream, sink);
  return { output: Buffer.concat(out).toString('utf8'), metrics: tap.metrics() };
}

const PNG = makePng(40, 30);
const JPEG = Buffer.concat([makeJpegHeader(), Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7) & 0xff))]);
const OTHER = Buffer.from('not an image at all, but bytes all the same');
const BODY = JSON.stringify({
  created: 1778832973,
  background: 'opaque',
  data: [
    { b64_json: PNG.toString('base64') },
    { b64_json: JPEG.toString('base64').replaceAll('/', '\\/'), revised_prompt: 'a "fox"' },
    { b64_json: OTHER.toString('base64') },
  ],
  output_format: 'png',
  usage: { input_tokens: 10, output_tokens: 20, total_tokens: 30 },
}).replaceAll('\\\\/', '\\/'); // JSON.stringify escaped our backslashes: keep the `\/` escapes a real encoder may write

/** What the client should get: the same body with each b64_json turned into `url` with the store's URL, in place. */
const EXPECTED = BODY.replace(
  /"b64_json":"[^"]*"/g,
  (() => {
    let n = 0;
    return () => `"url":"https://img.example/v1/images/results/imgres_${n++}"`;
  })(),
);

describe('response tap, hosted result URLs', () => {
  it('the fixture holds `\\/` escapes inside a base64 value', () => {
    expect(BODY).toContain('\\/');
  });

  it.each(['whole', 'bytes', 1, 2, 3, 42] as const)('replaces every b64_json with its URL and stores the decoded bytes (split %s)', async (split) => {
    const { store, stored } = memoryStore();
    const { output, metrics } = await runHostedTap(BODY, store, split);
    expect(output).toBe(EXPECTED);
    expect(JSON.parse(output)).toMatchObject({ created: 1778832973, output_format: 'png', usage: { total_tokens: 30 } });
    expect(stored.map((s) => s.bytes)).toEqual([PNG, JPEG, OTHER]);
    expect(stored.map((s) => s.contentType)).toEqual(['image/png', 'image/jpeg', 'image/webp']); // sniffed; else the fallback
    expect(metrics).toMatchObject({ imageCount: 3, imageBytes: PNG.length + JPEG.length + OTHER.length, usage: { totalTokens: 30 } });
    expect(output).not.toContain(PNG.toString('base64').slice(0, 24));
  });

  it('writes a multi-kilobyte image in pieces as they arrive, never whole', async () => {
    const { store, stored } = memoryStore();
    await runHostedTap(BODY, store, 7);
    expect(stored[0]!.writes).toBeGreaterThan(10);
  });

  it('does not end before every image is stored', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { store, stored } = memoryStore({ gate });
    let ended = false;
    const run = runHostedTap(BODY, store, 5).then((r) => {
      ended = true;
      return r;
    });
    await waitFor('the three commits to start', () => stored.length === 3 && stored.every((s) => s.commitCalled));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(false);
    open();
    expect((await run).output).toBe(EXPECTED);
  });

  it('fails with RESULT_STORE_FAILED when an image cannot be stored', async () => {
    const { store } = memoryStore({ fail: new Error('database is down') });
    await expect(runHostedTap(BODY, store, 3)).rejects.toMatchObject({ code: 'RESULT_STORE_FAILED' });
  });

  it('never commits an image whose value the body broke off in', async () => {
    const { store, stored } = memoryStore();
    const cut = BODY.slice(0, BODY.indexOf(PNG.toString('base64').slice(100, 120)));
    const { output } = await runHostedTap(cut, store, 4);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.contentType).toBeNull();
    expect(output).not.toContain(PNG.toString('base64').slice(0, 24));
  });

  it('passes a body that is not JSON through and stores nothing', async () => {
    const { store, stored } = memoryStore();
    expect((await runHostedTap('<html>bad gateway</html>', store)).output).toBe('<html>bad gateway</html>');
    expect(stored).toHaveLength(0);
  });
});
