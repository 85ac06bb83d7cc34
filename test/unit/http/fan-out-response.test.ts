import { describe, expect, it } from 'vitest';
import { combineImagesResponses, combinePartMetrics } from '../../../src/http/fan-out-response.js';
import type { ResponseMetrics } from '../../../src/observe/image-log-event.js';

type Usage = { input_tokens: number; output_tokens: number; total_tokens: number } | null;

/** One part as the fan-out holds it: its body (one image, its usage if any) and the tap's metrics of it. */
function buildPart(usage: Usage): { body: Record<string, unknown>; metrics: ResponseMetrics } {
  return {
    body: { created: 1, data: [{ b64_json: 'AAAA' }], ...(usage ? { usage } : {}) },
    metrics: {
      bodyBytes: 100,
      imageCount: 1,
      imageBytes: 3,
      usage: usage ? { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, totalTokens: usage.total_tokens } : null,
      size: null,
      quality: null,
      outputFormat: null,
      background: null,
    },
  };
}

const WITH_USAGE = { input_tokens: 10, output_tokens: 100, total_tokens: 110 };

describe('combinePartMetrics', () => {
  it.each<[string, Usage[]]>([
    ['every part reported usage', [WITH_USAGE, { input_tokens: 5, output_tokens: 50, total_tokens: 55 }]],
    ['one part came back without usage', [WITH_USAGE, null]],
    ['the first part came back without usage', [null, WITH_USAGE, WITH_USAGE]],
  ])('%s: the usage recorded is the usage the combined answer shows', (_name, usages) => {
    const parts = usages.map(buildPart);
    const body = combineImagesResponses(parts.map((p) => p.body)) as { data: unknown[]; usage?: Record<string, number> };
    const recorded = combinePartMetrics(parts.map((p) => p.metrics))!;
    expect(recorded.usage).toMatchObject({
      inputTokens: body.usage!.input_tokens,
      outputTokens: body.usage!.output_tokens,
      totalTokens: body.usage!.total_tokens,
    });
    expect(recorded.imageCount).toBe(body.data.length);
  });

  it('no part reported usage: none recorded (the request counts as usage missing), as the answer has none', () => {
    const parts = [buildPart(null), buildPart(null)];
    expect(combineImagesResponses(parts.map((p) => p.body))).not.toHaveProperty('usage');
    expect(combinePartMetrics(parts.map((p) => p.metrics))).toMatchObject({ usage: null, imageCount: 2, bodyBytes: 200 });
  });
});
