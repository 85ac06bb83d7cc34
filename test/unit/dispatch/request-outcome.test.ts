import { describe, expect, it } from 'vitest';
import { buildImageLogEvents, type RequestOutcome } from '../../../src/dispatch/request-outcome.js';
import type { ImageRequest } from '../../../src/images/image-request.js';
import { makeKey } from '../../support/snapshot-fixtures.js';

const PROMPT = 'a secret scene with a red fox';
const DATA_URL = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB';

const request: ImageRequest = {
  endpoint: 'edits',
  model: 'gpt-image-2',
  requestedModel: 'dall-e-3',
  prompt: PROMPT,
  n: 2,
  nGiven: true,
  options: { size: '1024x1024', quality: 'high' },
  responseFormat: 'b64_json',
  images: [
    { kind: 'inline', mime: 'image/png', bytes: 30, dataUrl: DATA_URL },
    { kind: 'url', url: 'https://images.example.com/private/cat.png?sig=abc' },
  ],
  mask: null,
  stream: false,
  partialImages: 0,
  ignoredParams: ['style'],
  mappedParams: ['quality'],
};

const outcome = (over: Partial<RequestOutcome>): RequestOutcome => ({
  requestId: 'req_1',
  clientIp: '203.0.113.7',
  startedAt: 1_000,
  key: makeKey({ id: 'key_9', name: 'team' }),
  request,
  promptHash: 'f'.repeat(64),
  attempts: [],
  skips: [],
  ending: null,
  queueWaitMs: 0,
  ...over,
});

const attempt = (accountName: string, status: number | null, errorClass: RequestOutcome['attempts'][number]['errorClass'], endedAt: number) => ({
  accountId: `acct_${accountName}`,
  accountName,
  status,
  ttfbMs: status === null ? null : 40,
  errorClass,
  retryAfterSeconds: null,
  endedAt,
});

describe('buildImageLogEvents', () => {
  it('writes one line per upstream response, with cumulative failover counts and metrics on the final one', () => {
    const events = buildImageLogEvents(
      outcome({
        attempts: [attempt('a', 429, 'rate_limited', 1_100), attempt('b', null, 'upstream_request', 1_200), attempt('c', 200, null, 1_300)],
        ending: {
          kind: 'upstream',
          status: 200,
          accountName: 'c',
          streamError: null,
          metrics: {
            bodyBytes: 10,
            imageCount: 2,
            imageBytes: 6,
            usage: { inputTokens: 1, outputTokens: 41, totalTokens: 42 },
            size: '1024x1024',
            quality: 'high',
            outputFormat: 'png',
            background: 'opaque',
          },
        },
      }),
      2_000,
    );
    expect(events.map((e) => [e.account_name, e.upstream_status, e.failover_count, e.error_class])).toEqual([
      ['a', 429, 0, 'rate_limited'],
      ['c', 200, 2, null],
    ]);
    expect(events[1]).toMatchObject({
      response_image_count: 2,
      response_image_bytes: 6,
      usage_tokens: 42,
      usage_missing: false,
      input_image_count: 2,
      input_data_image_count: 1,
      duration_ms: 300,
      n: 2,
      key_id: 'key_9',
    });
  });

  it('adds an exhaustion line with the gateway status and the last class', () => {
    const events = buildImageLogEvents(
      outcome({ attempts: [attempt('a', 401, 'auth', 1_050)], ending: { kind: 'exhausted', status: 503, skips: ['auth', 'concurrency_blocked'] } }),
      1_500,
    );
    expect(events.at(-1)).toMatchObject({
      event: 'exhausted',
      account_name: null,
      upstream_status: 503,
      failover_count: 1,
      error_class: 'concurrency_blocked',
      usage_missing: true,
    });
  });

  it('writes a single key-limit line', () => {
    const events = buildImageLogEvents(outcome({ ending: { kind: 'key_limited', reason: 'key_max_concurrency' } }), 1_001);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'key_limited', upstream_status: 429, error_class: 'key_max_concurrency' });
  });

  it('never contains the prompt, image data, image URLs or tokens', () => {
    const line = JSON.stringify(
      buildImageLogEvents(
        outcome({ attempts: [attempt('a', 200, null, 1_100)], ending: { kind: 'upstream', status: 200, accountName: 'a', metrics: null, streamError: null } }),
        1_200,
      ),
    );
    for (const leak of [PROMPT, 'red fox', 'data:image', 'iVBOR', 'images.example.com', 'cat.png', 'sig=abc', 'tok-']) {
      expect(line).not.toContain(leak);
    }
    expect(line).toContain('"prompt_hash"');
  });
});

describe('a client that went away', () => {
  it('is logged as its own event with status 499, not as an exhaustion', () => {
    const events = buildImageLogEvents(outcome({ attempts: [attempt('a', null, 'client_aborted', 1_050)], ending: { kind: 'client_aborted' } }), 1_100);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'client_aborted', upstream_status: 499, error_class: 'client_aborted', account_name: null });
  });
});

describe('the client address', () => {
  const upstream200 = { kind: 'upstream', status: 200, accountName: 'b', metrics: null, streamError: null } as const;
  it.each([
    ['a failover and a success', { attempts: [attempt('a', 500, 'upstream_server', 1_100), attempt('b', 200, null, 1_200)], ending: upstream200 }, 2],
    ['an exhaustion', { attempts: [attempt('a', 401, 'auth', 1_050)], ending: { kind: 'exhausted', status: 503, skips: ['auth'] } }, 2],
    ['a key-limit rejection', { ending: { kind: 'key_limited', reason: 'key_max_concurrency' } }, 1],
  ] as const)('is on every line of %s', (_name, over, lines) => {
    const events = buildImageLogEvents(outcome(over as Partial<RequestOutcome>), 1_500);
    expect(events).toHaveLength(lines);
    expect(events.map((e) => e.client_ip)).toEqual(Array(lines).fill('203.0.113.7'));
  });

  it('is null (not missing, not a guess) when the HTTP layer did not know it', () => {
    const [event] = buildImageLogEvents(outcome({ clientIp: null, ending: { kind: 'key_limited', reason: 'key_max_concurrency' } }), 1_001);
    expect(event).toHaveProperty('client_ip', null);
  });
});
