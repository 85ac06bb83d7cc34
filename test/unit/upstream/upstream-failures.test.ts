import { describe, expect, it } from 'vitest';
import {
  UPSTREAM_ERROR_CODES,
  UpstreamFailureError,
  isImagesEndpointUnavailable,
  isResponseTooLargeError,
  isTimeoutError,
  isTransportError,
  shouldFailover,
  statusClass,
} from '../../../src/upstream/upstream-failures.js';

/** The attempt was ended by the caller's own signal (the client's code for it, not a timeout). */
const isClientAbort = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === UPSTREAM_ERROR_CODES.clientAborted;

const withCode = (code: string): Error => Object.assign(new Error('x'), { code });

describe('shouldFailover', () => {
  it.each([401, 403, 429, 500, 502, 503, 504, 599])('fails over on %i', (status) => expect(shouldFailover(status)).toBe(true));
  it.each([200, 201, 400, 402, 404, 408, 409, 413, 422, 499, 600])('does not fail over on %i', (status) => expect(shouldFailover(status)).toBe(false));
});

describe('statusClass', () => {
  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [429, 'rate_limited'],
    [500, 'upstream_server'],
    [503, 'upstream_server'],
    [599, 'upstream_server'],
    [400, 'client_error'],
    [404, 'client_error'],
    [422, 'client_error'],
    [301, 'upstream_status'],
    [100, 'upstream_status'],
    [600, 'upstream_status'],
  ])('%i → %s', (status, cls) => expect(statusClass(status)).toBe(cls));

  it.each([200, 201, 204, 299])('%i is not an error', (status) => expect(statusClass(status)).toBeNull());
});

describe('isTransportError', () => {
  it.each([
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'ENOTFOUND',
    'EAI_AGAIN',
    UPSTREAM_ERROR_CODES.socksProxy,
    UPSTREAM_ERROR_CODES.socksTimeout,
  ])('%s is transport', (code) => expect(isTransportError(withCode(code))).toBe(true));

  it('looks at an undici-wrapped cause', () => {
    expect(isTransportError(Object.assign(new Error('fetch failed'), { cause: withCode('ECONNRESET') }))).toBe(true);
  });

  it.each([
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
    UPSTREAM_ERROR_CODES.attemptTimeout,
    UPSTREAM_ERROR_CODES.clientAborted,
    UPSTREAM_ERROR_CODES.responseTooLarge,
    'INVALID_PROXY_URL',
    'ECONNRESETX',
    '',
  ])('%j is not transport', (code) => expect(isTransportError(withCode(code))).toBe(false));

  it.each([null, undefined, 'ECONNRESET', 42, {}])('non-errors (%j) are not transport', (value) => expect(isTransportError(value)).toBe(false));
});

describe('isTimeoutError', () => {
  it.each(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', UPSTREAM_ERROR_CODES.attemptTimeout])('%s is a timeout', (code) =>
    expect(isTimeoutError(withCode(code))).toBe(true),
  );

  it('a DOM TimeoutError (AbortSignal.timeout) is a timeout; a DOM AbortError is not', () => {
    expect(isTimeoutError(new DOMException('timed out', 'TimeoutError'))).toBe(true);
    expect(isTimeoutError(new DOMException('aborted', 'AbortError'))).toBe(false);
  });

  it('the client abort and the attempt timeout are told apart', () => {
    const abort = new UpstreamFailureError(UPSTREAM_ERROR_CODES.clientAborted, 'aborted');
    const timeout = new UpstreamFailureError(UPSTREAM_ERROR_CODES.attemptTimeout, 'too slow');
    expect([isClientAbort(abort), isTimeoutError(abort), isTransportError(abort)]).toEqual([true, false, false]);
    expect([isClientAbort(timeout), isTimeoutError(timeout), isTransportError(timeout)]).toEqual([false, true, false]);
    expect(abort.name).toBe('AbortError');
    expect(timeout.name).toBe('TimeoutError');
  });

  it('recognises a too-large response', () => {
    expect(isResponseTooLargeError(new UpstreamFailureError(UPSTREAM_ERROR_CODES.responseTooLarge, 'big'))).toBe(true);
    expect(isResponseTooLargeError(withCode('UND_ERR_RES_EXCEEDED_MAX_SIZE'))).toBe(false);
  });

  it('own codes are distinct and upper-case', () => {
    const codes = Object.values(UPSTREAM_ERROR_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[A-Z_]+$/);
  });
});

describe('isImagesEndpointUnavailable', () => {
  it.each([
    [404, null, 'Not Found', true],
    [410, null, 'Gone', true],
    [405, null, 'Method Not Allowed', true],
    [400, null, "The 'gpt-image-2' model is not supported when using Codex with a ChatGPT account.", true],
    [422, 'unsupported_endpoint', 'nope', true],
    [400, 'moderation_blocked', 'Your request was rejected as a result of our safety system.', false],
    [400, null, 'size has an invalid value', false],
    [500, null, 'unsupported', false],
    [429, null, 'not supported right now', false],
  ])('%i %s %j → %s', (status, code, message, expected) => {
    expect(isImagesEndpointUnavailable(status, { code, message })).toBe(expected);
  });
});
