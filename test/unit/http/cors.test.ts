import { describe, expect, it } from 'vitest';
import {
  buildCorsAllowHeaders,
  CORS_ALLOWED_REQUEST_HEADERS,
  CORS_EXCLUDED_PATHS,
  isCorsAllowedRequestHeader,
  isCorsExcludedPath,
  resolveCorsAllowOrigin,
} from '../../../src/http/cors.js';
import { UPSTREAM_PASSTHROUGH_HEADERS } from '../../../src/upstream/upstream-headers.js';

describe('resolveCorsAllowOrigin', () => {
  const list = ['https://app.example.com', 'http://localhost:5173'];
  it.each(list)('echoes the listed origin %s', (origin) => expect(resolveCorsAllowOrigin(list, origin)).toBe(origin));
  it.each([
    'https://app.example.com/',
    'https://APP.example.com',
    'http://app.example.com',
    'https://app.example.com:8443',
    'null',
    '',
    'http://localhost:5174',
  ])('refuses the near miss %j', (origin) => expect(resolveCorsAllowOrigin(list, origin)).toBeNull());
  it("answers '*' for any origin when the list is ['*']", () => {
    expect(resolveCorsAllowOrigin(['*'], 'https://anything.example')).toBe('*');
    expect(resolveCorsAllowOrigin(['*'], 'null')).toBe('*');
  });
  it('refuses everything when the list is empty', () => expect(resolveCorsAllowOrigin([], 'https://app.example.com')).toBeNull());
});

describe('request headers a page may send', () => {
  it('allows the SDK headers, the upstream passthrough headers and any x-stainless-* name', () => {
    for (const name of ['authorization', 'content-type', ...UPSTREAM_PASSTHROUGH_HEADERS, 'x-stainless-os', 'x-stainless-some-future-name']) {
      expect(isCorsAllowedRequestHeader(name), name).toBe(true);
    }
    expect(CORS_ALLOWED_REQUEST_HEADERS).toContain('authorization');
  });
  it.each(['cookie', 'x-evil', 'x-stainless-', 'x-stainless', 'proxy-authorization', 'x-forwarded-for'])('refuses %s', (name) =>
    expect(isCorsAllowedRequestHeader(name)).toBe(false),
  );
  it('echoes the allowed requested names lower-cased, once each, in order', () => {
    expect(buildCorsAllowHeaders(' Content-Type ,AUTHORIZATION, x-evil,content-type,X-Stainless-Lang,,')).toBe('content-type, authorization, x-stainless-lang');
    expect(buildCorsAllowHeaders(undefined)).toBe('');
    expect(buildCorsAllowHeaders('cookie')).toBe('');
  });
});

describe('isCorsExcludedPath', () => {
  it.each([...CORS_EXCLUDED_PATHS, '/status/activity', '/status/accounts/acct_1/clear-cooldown', '/metrics?name=x'])('excludes %s', (path) =>
    expect(isCorsExcludedPath(path)).toBe(true),
  );
  it.each(['/v1/images/generations', '/v1/models', '/v1/models/gpt-image-1', '/statusx', '/metricsz', '/v1/status', '/'])('keeps %s public', (path) =>
    expect(isCorsExcludedPath(path)).toBe(false),
  );
});
