import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readResponsesImageEvents, toImageEvent } from '../../../src/upstream/responses-events.js';

const sse = (events: Array<Record<string, unknown>>) => events.map((e) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`).join('');

async function collect(text: string, chunk = 7) {
  const pieces = Array.from({ length: Math.ceil(text.length / chunk) }, (_, i) => text.slice(i * chunk, (i + 1) * chunk));
  const out = [];
  for await (const event of readResponsesImageEvents(Readable.from(pieces))) out.push(event);
  return out;
}

const ITEM = {
  type: 'image_generation_call',
  id: 'ig_1',
  status: 'completed',
  result: 'iVBORw0KGgo=',
  size: '1024x1024',
  quality: 'high',
  background: 'opaque',
  output_format: 'png',
  revised_prompt: 'words',
};
const USAGE = { input_tokens: 17, output_tokens: 1372, total_tokens: 1389, input_tokens_details: { text_tokens: 17, image_tokens: 0 } };

describe('readResponsesImageEvents', () => {
  it('yields partials, the final item and the completion with the image model usage, skipping other events', async () => {
    const text = sse([
      { type: 'response.created', response: { id: 'r' } },
      { type: 'response.image_generation_call.generating', item_id: 'ig_1' },
      { type: 'response.image_generation_call.partial_image', partial_image_index: 0, partial_image_b64: 'AAAA', size: '1024x1024' },
      { type: 'response.output_item.done', item: ITEM },
      { type: 'response.completed', response: { output: [], usage: { input_tokens: 5 }, tool_usage: { image_gen: USAGE } } },
    ]);
    expect(await collect(text)).toEqual([
      { kind: 'partial', index: 0, b64: 'AAAA', echoes: { size: '1024x1024', quality: null, background: null, outputFormat: null } },
      { kind: 'image', b64: 'iVBORw0KGgo=', echoes: { size: '1024x1024', quality: 'high', background: 'opaque', outputFormat: 'png' } },
      { kind: 'completed', usage: { inputTokens: 17, outputTokens: 1372, totalTokens: 1389, textTokens: 17, imageTokens: 0 }, outputImage: null },
    ]);
  });

  it('takes an image listed in response.output, and reads CRLF framing and multi-line data', async () => {
    const completed = JSON.stringify({ type: 'response.completed', response: { output: [{ type: 'message' }, ITEM] } });
    const cut = completed.indexOf(',') + 1; // between two members: the joining newline is JSON white space
    const text = `event: response.completed\r\ndata: ${completed.slice(0, cut)}\r\ndata: ${completed.slice(cut)}\r\n\r\n`;
    const [event] = await collect(text);
    expect(event).toMatchObject({ kind: 'completed', outputImage: { b64: ITEM.result } });
  });

  it('maps failures, redacting what they say', () => {
    expect(toImageEvent({ type: 'response.failed', response: { error: { code: 'server_error', message: 'bad Bearer abc.def' } } })).toEqual({
      kind: 'failed',
      code: 'server_error',
      message: 'bad Bearer [redacted]',
    });
    expect(toImageEvent({ type: 'error', code: 'rate_limit_exceeded', message: 'slow down' })).toEqual({
      kind: 'failed',
      code: 'rate_limit_exceeded',
      message: 'slow down',
    });
    expect(toImageEvent({ type: 'response.failed' })).toMatchObject({ kind: 'failed', code: null });
  });

  it('ignores items without a result, non-JSON data and unknown events', async () => {
    expect(toImageEvent({ type: 'response.output_item.done', item: { ...ITEM, result: null } })).toBeNull();
    expect(toImageEvent({ type: 'response.output_item.done', item: { type: 'message' } })).toBeNull();
    expect(await collect('data: not json\n\nevent: x\ndata: {"type":"response.in_progress"}\n\n')).toEqual([]);
  });
});
