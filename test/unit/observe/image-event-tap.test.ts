import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createImageEventTap, type ImageEventTapOptions } from '../../../src/observe/image-event-tap.js';
import { makePng } from '../../support/images.js';

const OPTS: ImageEventTapOptions = {
  eventPrefix: 'image_generation',
  defaults: { size: '1024x1536', quality: null, background: null, outputFormat: 'webp' },
  maxBytes: 1 << 30,
  nowSeconds: () => 1_800_000_000,
};

async function run(body: string, split: number | 'whole' = 'whole', opts = OPTS) {
  const tap = createImageEventTap(opts);
  const bytes = Buffer.from(body);
  const chunks = split === 'whole' ? [bytes] : Array.from({ length: Math.ceil(bytes.length / split) }, (_, i) => bytes.subarray(i * split, (i + 1) * split));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    tap.stream,
    new Writable({
      write: (c: Buffer, _e, cb) => {
        out.push(c);
        cb();
      },
    }),
  );
  const text = Buffer.concat(out).toString();
  const events = text
    .split('\n\n')
    .filter((b) => b !== '')
    .map((b) => ({ event: /^event: (.*)$/m.exec(b)![1], data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) as Record<string, unknown> }));
  return { text, events, tap };
}

const B64 = makePng(3, 3).toString('base64');

describe('createImageEventTap', () => {
  it('turns one image body into one completed event, whatever the chunking', async () => {
    const body = JSON.stringify({
      created: 1,
      data: [{ b64_json: B64, revised_prompt: 'secret words' }],
      background: 'opaque',
      output_format: 'png',
      quality: 'high',
      size: '1024x1024',
      usage: { input_tokens: 10, output_tokens: 90, total_tokens: 100, input_tokens_details: { text_tokens: 4, image_tokens: 6 } },
    });
    for (const split of ['whole', 1, 7] as const) {
      const { events, tap, text } = await run(body, split);
      expect(events).toEqual([
        {
          event: 'image_generation.completed',
          data: {
            type: 'image_generation.completed',
            b64_json: B64,
            created_at: 1_800_000_000,
            size: '1024x1024',
            quality: 'high',
            background: 'opaque',
            output_format: 'png',
            usage: { total_tokens: 100, input_tokens: 10, output_tokens: 90, input_tokens_details: { text_tokens: 4, image_tokens: 6 } },
          },
        },
      ]);
      expect(text).not.toContain('secret words');
      expect(tap.eventsWritten()).toBe(1);
      expect(tap.metrics()).toMatchObject({ imageCount: 1, usage: { totalTokens: 100 } });
    }
  });

  it('usage and echoes may come before the image; unknown echoes fall back to the request, then to auto/png', async () => {
    const body = `{"usage":{"input_tokens":1,"output_tokens":2},"size":"1254x1254","quality":"ultra","data":[{"b64_json":"${B64}"}]}`;
    const { events } = await run(body, 5);
    expect(events[0]!.data).toMatchObject({
      size: '1024x1536',
      quality: 'auto',
      background: 'auto',
      output_format: 'webp',
      usage: { total_tokens: 3, input_tokens_details: { text_tokens: 0, image_tokens: 0 } },
    });
  });

  it('one event per image when a body carries several, in order', async () => {
    const other = makePng(5, 5).toString('base64');
    const { events } = await run(JSON.stringify({ data: [{ b64_json: B64 }, { b64_json: other }] }), 3);
    expect(events.map((e) => e.data.b64_json)).toEqual([B64, other]);
  });

  it('keeps escaped slashes valid inside the event', async () => {
    const slashy = '/9j/4AAQSkZJRg==';
    const { events } = await run(`{"data":[{"b64_json":"${slashy.replaceAll('/', '\\/')}"}]}`, 2);
    expect(events[0]!.data.b64_json).toBe(slashy);
  });

  it('edits use the image_edit prefix', async () => {
    const { events } = await run(JSON.stringify({ data: [{ b64_json: B64 }] }), 'whole', { ...OPTS, eventPrefix: 'image_edit' });
    expect(events[0]).toMatchObject({ event: 'image_edit.completed', data: { type: 'image_edit.completed' } });
  });

  it('writes nothing for a body without an image, and no trailer for an image cut off by the end', async () => {
    expect((await run('{"data":[]}')).tap.eventsWritten()).toBe(0);
    const cut = createImageEventTap(OPTS);
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([Buffer.from(`{"data":[{"b64_json":"${B64.slice(0, 10)}`)]),
      cut.stream,
      new Writable({
        write: (c: Buffer, _e, cb) => {
          out.push(c);
          cb();
        },
      }),
    );
    expect(cut.eventsWritten()).toBe(0);
    expect(cut.eventOpen()).toBe(true);
    expect(cut.metrics().imageCount).toBeNull();
  });

  it('stops at maxBytes', async () => {
    await expect(run(JSON.stringify({ data: [{ b64_json: B64 }] }), 4, { ...OPTS, maxBytes: 10 })).rejects.toMatchObject({
      code: 'UPSTREAM_RESPONSE_TOO_LARGE',
    });
  });
});
