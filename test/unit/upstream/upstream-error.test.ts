import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  MAX_UPSTREAM_ERROR_BYTES,
  MAX_UPSTREAM_ERROR_MESSAGE_CHARS,
  buildUpstreamErrorResponse,
  parseUpstreamError,
  readUpstreamError,
  redactUpstreamMessage,
  type UpstreamErrorInfo,
} from '../../../src/upstream/upstream-error.js';

const NOW_MS = 1_800_000_000_000;
const info = (over: Partial<UpstreamErrorInfo> = {}): UpstreamErrorInfo => ({
  message: 'm',
  type: null,
  code: null,
  resetsInSeconds: null,
  planType: null,
  ...over,
});

describe('parseUpstreamError', () => {
  it.each<[string, string, Partial<UpstreamErrorInfo>]>([
    [
      'usage limit (error object, resets_in_seconds)',
      '{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_in_seconds":123.2}}',
      { message: 'The usage limit has been reached', type: 'usage_limit_reached', code: null, resetsInSeconds: 124, planType: 'plus' },
    ],
    [
      'usage limit with resets_at (epoch seconds)',
      `{"error":{"type":"usage_not_included","message":"no","resets_at":${NOW_MS / 1000 + 90}}}`,
      { type: 'usage_not_included', resetsInSeconds: 90 },
    ],
    ['resets_at in the past clamps to 0', `{"error":{"message":"x","resets_at":${NOW_MS / 1000 - 5}}}`, { resetsInSeconds: 0 }],
    [
      'moderation block',
      '{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","code":"moderation_blocked","param":null}}',
      { message: 'Your request was rejected as a result of our safety system.', type: 'invalid_request_error', code: 'moderation_blocked' },
    ],
    ['error as a string', '{"error":"bad thing","code":"x1"}', { message: 'bad thing', code: 'x1' }],
    ['detail string (FastAPI)', '{"detail":"The model is not supported."}', { message: 'The model is not supported.', type: null }],
    ['detail object', '{"detail":{"message":"nope","code":"deactivated_workspace"}}', { message: 'nope', code: 'deactivated_workspace' }],
    ['detail list (FastAPI validation)', '{"detail":[{"loc":["body","prompt"],"msg":"Field required"}]}', { message: 'Field required' }],
    ['top-level message', '{"message":"Too many requests","code":429}', { message: 'Too many requests', code: '429' }],
    ['numeric code in an error object', '{"error":{"message":"x","code":1010}}', { code: '1010' }],
    ['message is trimmed', '{"detail":"  spaced \\n out  "}', { message: 'spaced   out' }],
  ])('%s', (_name, text, expected) => {
    expect(parseUpstreamError(429, text, NOW_MS)).toMatchObject(expected);
  });

  it.each([
    ['not JSON', '<html>502 Bad Gateway</html>'],
    ['empty', ''],
    ['JSON array', '[1,2]'],
    ['JSON string', '"oops"'],
    ['object without a message', '{"error":{"type":"server_error"}}'],
    ['blank message', '{"detail":"   "}'],
    ['truncated JSON', '{"error":{"message":"cut'],
  ])('falls back to the status message for %s', (_name, text) => {
    expect(parseUpstreamError(502, text, NOW_MS).message).toBe('upstream returned status 502');
  });

  it('keeps the type of an otherwise message-less error', () => {
    expect(parseUpstreamError(500, '{"error":{"type":"server_error"}}', NOW_MS)).toMatchObject({ type: 'server_error' });
  });
});

describe('redactUpstreamMessage', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';
  it.each([
    ['bearer token', 'bad header Authorization: Bearer abc.def-ghi', 'abc.def-ghi'],
    ['JWT', `token ${jwt} expired`, jwt],
    ['data URL', 'cannot decode data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==', 'iVBORw0KGgo'],
    ['image URL', 'failed to fetch https://cdn.example.com/private/cat.png?sig=abc', 'cdn.example.com'],
    ['API key', 'invalid key sk-proj-ABCDEFGHIJKLMNOPQRSTUV', 'ABCDEFGHIJKLMNOP'],
    ['gateway key', 'bad cig_ABCDEFGHIJKLMNOPQRSTUV', 'ABCDEFGHIJKLMNOP'],
    ['refresh token', 'refresh rt_ABCDEFGHIJKLMNOPQRSTUV failed', 'ABCDEFGHIJKLMNOP'],
    ['long base64', `blob ${'QUJD'.repeat(80)} end`, 'QUJDQUJD'],
  ])('redacts a %s', (_name, text, secret) => {
    const out = redactUpstreamMessage(text);
    expect(out).not.toContain(secret);
    expect(out).toContain('[redacted');
  });

  it.each(['The usage limit has been reached', 'metadata: invalid', 'data: missing field', 'size must be 1024x1024'])(
    'leaves ordinary text alone: %j',
    (text) => expect(redactUpstreamMessage(text)).toBe(text),
  );

  it('caps the message at 500 characters after redaction', () => {
    const out = redactUpstreamMessage('word '.repeat(400));
    expect(out.length).toBe(MAX_UPSTREAM_ERROR_MESSAGE_CHARS);
    expect(out.endsWith('…')).toBe(true);
  });

  it('flattens control characters', () => {
    expect(redactUpstreamMessage('a\r\nb\u0000c')).toBe('a b c');
  });
});

describe('readUpstreamError', () => {
  it('reads and parses a small body', async () => {
    const body = Readable.from([Buffer.from('{"detail":'), Buffer.from('"Unauthorized"}')]);
    await expect(readUpstreamError(body, 401)).resolves.toMatchObject({ message: 'Unauthorized' });
  });

  it('reads at most maxBytes, then destroys the stream', async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled += 1;
        this.push(Buffer.alloc(16 * 1024, 0x61));
      },
    });
    const result = await readUpstreamError(body, 500);
    expect(result.message).toBe('upstream returned status 500');
    expect(body.destroyed).toBe(true);
    expect(pulled * 16 * 1024).toBeLessThanOrEqual(MAX_UPSTREAM_ERROR_BYTES + 64 * 1024);
  });

  it('returns the generic message when the body errors', async () => {
    const body = new Readable({
      read() {
        this.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
      },
    });
    await expect(readUpstreamError(body, 503)).resolves.toMatchObject({ message: 'upstream returned status 503' });
  });

  it('computes resets from resets_at with the given clock', async () => {
    const body = Readable.from([Buffer.from(`{"error":{"message":"x","resets_at":${NOW_MS / 1000 + 30}}}`)]);
    await expect(readUpstreamError(body, 429, { nowMs: NOW_MS })).resolves.toMatchObject({ resetsInSeconds: 30 });
  });
});

describe('buildUpstreamErrorResponse', () => {
  it('maps a usage limit to rate_limit_error with the upstream code and retry-after', () => {
    const out = buildUpstreamErrorResponse(429, info({ message: 'limit', type: 'usage_limit_reached', resetsInSeconds: 60 }));
    expect(out).toEqual({
      status: 429,
      body: { error: { message: 'limit', type: 'rate_limit_error', param: null, code: 'usage_limit_reached' } },
      headers: { 'retry-after': '60', 'retry-after-ms': '60000' },
    });
  });

  it('keeps a known OpenAI type and the upstream code', () => {
    const out = buildUpstreamErrorResponse(400, info({ type: 'invalid_request_error', code: 'moderation_blocked' }));
    expect(out.body.error).toMatchObject({ type: 'invalid_request_error', code: 'moderation_blocked' });
    expect(out.headers).toEqual({});
  });

  it.each([
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [429, 'rate_limit_error'],
    [500, 'server_error'],
    [422, 'invalid_request_error'],
  ])('derives the type from status %i when the upstream type is unknown', (status, type) => {
    const out = buildUpstreamErrorResponse(status, info({ type: 'weird_type' }));
    expect(out.body.error.type).toBe(type);
    expect(out.body.error.code).toBe('weird_type');
  });

  it('always has all four error keys', () => {
    const out = buildUpstreamErrorResponse(502, info({ message: '' }));
    expect(out.body.error).toEqual({ message: 'upstream returned status 502', type: 'server_error', param: null, code: null });
  });
});
