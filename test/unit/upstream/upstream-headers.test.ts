import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CODEX_CLIENT_VERSION,
  UPSTREAM_PASSTHROUGH_HEADERS,
  buildUpstreamHeaders,
  normalizeCodexClientVersion,
} from '../../../src/upstream/upstream-headers.js';
import type { UpstreamRequest } from '../../../src/upstream/types.js';

const sampleRequest = (over: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
  endpoint: 'generations',
  body: { contentLength: 2, open: () => Readable.from([Buffer.from('{}')]) },
  accessToken: 'eyJ.account-token.sig',
  chatgptAccountId: 'acct-1',
  fedramp: false,
  proxyUrl: null,
  clientHeaders: {},
  codexClientVersion: '0.150.1',
  ...over,
});

describe('normalizeCodexClientVersion', () => {
  it.each([
    ['0.142.0', '0.142.0'],
    ['  1.2.3-beta_4  ', '1.2.3-beta_4'],
    ['a'.repeat(64), 'a'.repeat(64)],
  ])('keeps %j as %j', (raw, expected) => expect(normalizeCodexClientVersion(raw)).toBe(expected));

  it.each(['', '   ', 'a'.repeat(65), '1.0 beta', '1.0\r\nx-evil: 1', '1.0/2', 'é1.0', null, undefined, 142])('replaces %j with the default', (raw) =>
    expect(normalizeCodexClientVersion(raw)).toBe(DEFAULT_CODEX_CLIENT_VERSION),
  );

  it('defaults to the version the Codex CLI reference used', () => {
    expect(DEFAULT_CODEX_CLIENT_VERSION).toBe('0.142.0');
  });
});

describe('buildUpstreamHeaders', () => {
  it('sends the Codex identity and only the allowlisted client headers', () => {
    const headers = buildUpstreamHeaders(
      sampleRequest({
        clientHeaders: {
          authorization: 'Bearer cig_client_key',
          cookie: 'session=abc',
          'x-stainless-os': 'Linux',
          'x-forwarded-for': '10.0.0.1',
          'user-agent': 'curl/8',
          originator: 'evil',
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
          host: 'gateway.example.com',
          'openai-organization': 'org-1',
        },
      }),
      1234,
    );
    expect(headers).toEqual({
      authorization: 'Bearer eyJ.account-token.sig',
      accept: 'application/json',
      'content-type': 'application/json',
      'content-length': '1234',
      'user-agent': 'codex_cli_rs/0.150.1',
      originator: 'codex_cli_rs',
      version: '0.150.1',
      'chatgpt-account-id': 'acct-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
  });

  it.each(UPSTREAM_PASSTHROUGH_HEADERS)('copies %s verbatim, whatever its case on the client side', (name) => {
    const headers = buildUpstreamHeaders(sampleRequest({ clientHeaders: { [name.toUpperCase()]: ' value 1 ' } }), 2);
    expect(headers[name]).toBe(' value 1 ');
  });

  it('joins repeated client values and skips empty ones', () => {
    const headers = buildUpstreamHeaders(sampleRequest({ clientHeaders: { baggage: ['a=1', 'b=2'], tracestate: '', 'openai-beta': undefined } }), 2);
    expect(headers.baggage).toBe('a=1, b=2');
    expect(headers).not.toHaveProperty('tracestate');
    expect(headers).not.toHaveProperty('openai-beta');
  });

  it('client headers can never override the identity or auth headers', () => {
    const headers = buildUpstreamHeaders(sampleRequest({ clientHeaders: { 'User-Agent': 'python-requests', Authorization: 'Bearer x', version: '9' } }), 2);
    expect(headers['user-agent']).toBe('codex_cli_rs/0.150.1');
    expect(headers.authorization).toBe('Bearer eyJ.account-token.sig');
    expect(headers.version).toBe('0.150.1');
  });

  it('omits chatgpt-account-id when unknown and adds x-openai-fedramp for FedRAMP accounts', () => {
    expect(buildUpstreamHeaders(sampleRequest({ chatgptAccountId: null }), 2)).not.toHaveProperty('chatgpt-account-id');
    expect(buildUpstreamHeaders(sampleRequest(), 2)).not.toHaveProperty('x-openai-fedramp');
    expect(buildUpstreamHeaders(sampleRequest({ fedramp: true }), 2)['x-openai-fedramp']).toBe('true');
  });

  it('normalises a malformed version instead of sending it', () => {
    const headers = buildUpstreamHeaders(sampleRequest({ codexClientVersion: '1.0\r\nx-evil: 1' }), 2);
    expect(headers['user-agent']).toBe(`codex_cli_rs/${DEFAULT_CODEX_CLIENT_VERSION}`);
    expect(headers.version).toBe(DEFAULT_CODEX_CLIENT_VERSION);
  });

  it('the allowlist is exactly the Codex feature flags and the trace context headers', () => {
    expect([...UPSTREAM_PASSTHROUGH_HEADERS].sort()).toEqual([
      'baggage',
      'openai-beta',
      'traceparent',
      'tracestate',
      'x-codex-beta-features',
      'x-codex-installation-id',
      'x-openai-subagent',
    ]);
  });
});
