import { describe, expect, it } from 'vitest';
import { ERRORS, GatewayError, type ErrorCode } from '../../../src/errors/codes.js';
import { toOpenAIError } from '../../../src/errors/openai-shape.js';
import { buildRetryHeaders, buildRetryPolicyHeaders, DEFAULT_RETRY_AFTER_MS } from '../../../src/errors/retry-hint.js';

const CODES = Object.keys(ERRORS) as ErrorCode[];

describe('buildRetryHeaders', () => {
  it.each<[number, string, string]>([
    [1_500, '2', '1500'],
    [1_000, '1', '1000'],
    [1_000.2, '2', '1001'],
    [29_500, '30', '29500'],
    [1, '1', '1'],
    [0, '1', '1'],
    [-5, '1', '1'],
    [Number.NaN, '1', String(DEFAULT_RETRY_AFTER_MS)],
  ])('%d ms → retry-after %s, retry-after-ms %s', (ms, seconds, millis) => {
    expect(buildRetryHeaders(ms)).toEqual({ 'retry-after': seconds, 'retry-after-ms': millis });
  });
});

describe('the retry policy of the ERRORS table', () => {
  it.each(CODES.filter((c) => ERRORS[c].status === 429 || ERRORS[c].status === 503))('%s (a 429/503) either says when to retry or never to', (code) => {
    expect(['after', 'never']).toContain(ERRORS[code].retry);
  });

  it.each(CODES.filter((c) => ERRORS[c].status >= 400 && ERRORS[c].status < 500 && ERRORS[c].status !== 429))(
    '%s (a 4xx other than 429) is never retried',
    (code) => {
      expect(ERRORS[code].retry).toBe('never');
    },
  );

  it.each<ErrorCode>(['no_image_accounts', 'image_disabled', 'accounts_need_reimport', 'quota_exceeded'])(
    '%s is a configuration or quota problem no retry fixes',
    (code) => {
      expect(buildRetryPolicyHeaders(code, null)).toEqual({ 'x-should-retry': 'false' });
    },
  );

  it.each<ErrorCode>([
    'key_rate_limited',
    'accounts_busy',
    'accounts_rate_limited',
    'accounts_cooling_down',
    'no_usable_accounts',
    'not_ready',
    'shutting_down',
  ])('%s always carries a wait: the computed one, else the default', (code) => {
    expect(buildRetryPolicyHeaders(code, 2_345)).toEqual({ 'retry-after': '3', 'retry-after-ms': '2345' });
    expect(buildRetryPolicyHeaders(code, null)).toEqual(buildRetryHeaders(DEFAULT_RETRY_AFTER_MS));
  });

  it.each<ErrorCode>(['account_pool_exhausted', 'upstream_timeout', 'internal_error'])('%s leaves the wait to the SDK unless one was computed', (code) => {
    expect(buildRetryPolicyHeaders(code, null)).toEqual({});
    expect(buildRetryPolicyHeaders(code, 61_000)).toEqual({ 'retry-after': '61', 'retry-after-ms': '61000' });
  });
});

describe('toOpenAIError adds the retry headers', () => {
  it('from a GatewayError with a computed wait, keeping its other headers', () => {
    const mapped = toOpenAIError(new GatewayError('key_rate_limited', 'slow down', null, { retryAfterMs: 1_234, headers: { 'x-extra': '1' } }));
    expect(mapped.status).toBe(429);
    expect(mapped.headers).toEqual({ 'retry-after': '2', 'retry-after-ms': '1234', 'x-extra': '1' });
  });

  it('from the table when the thrower computed nothing', () => {
    expect(toOpenAIError(new GatewayError('shutting_down', 'bye')).headers).toEqual({ 'retry-after': '1', 'retry-after-ms': '1000' });
    expect(toOpenAIError(new GatewayError('method_not_allowed', 'POST', null, { headers: { allow: 'POST' } })).headers).toEqual({
      'x-should-retry': 'false',
      allow: 'POST',
    });
  });

  it('for Fastify errors and unknown errors alike', () => {
    expect(toOpenAIError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' })).headers).toEqual({ 'x-should-retry': 'false' });
    expect(toOpenAIError(new Error('boom')).headers).toEqual({});
  });
});
