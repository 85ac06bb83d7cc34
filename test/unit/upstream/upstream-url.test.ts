import { describe, expect, it } from 'vitest';
import { CONFIG_FIELDS } from '../../../src/config/fields.js';
import { UPSTREAM_PATHS, joinUpstreamUrl, normalizeUpstreamBaseUrl, upstreamPathFor } from '../../../src/upstream/upstream-url.js';

describe('normalizeUpstreamBaseUrl', () => {
  it.each([
    // Trim, strip trailing '/', append /backend-api/codex to a bare chatgpt origin.
    ['https://chatgpt.com', 'https://chatgpt.com/backend-api/codex'],
    ['  https://chatgpt.com/  ', 'https://chatgpt.com/backend-api/codex'],
    ['https://chat.openai.com', 'https://chat.openai.com/backend-api/codex'],
    ['HTTPS://ChatGPT.com', 'HTTPS://ChatGPT.com/backend-api/codex'],
    ['https://chatgpt.com/backend-api/codex/', 'https://chatgpt.com/backend-api/codex'],
    ['https://chatgpt.com/backend-api/codex//', 'https://chatgpt.com/backend-api/codex'],
    ['https://chatgpt.com/backend-api', 'https://chatgpt.com/backend-api'],
    ['https://chatgpt.com/BACKEND-API/codex', 'https://chatgpt.com/BACKEND-API/codex'],
    // Near misses: not https, or another host, are left alone.
    ['http://chatgpt.com', 'http://chatgpt.com'],
    ['https://api.openai.com/v1', 'https://api.openai.com/v1'],
    ['http://127.0.0.1:8080/backend-api/codex', 'http://127.0.0.1:8080/backend-api/codex'],
    ['https://proxy.example.com/chatgpt.com', 'https://proxy.example.com/chatgpt.com'],
  ])('%s → %s', (raw, expected) => expect(normalizeUpstreamBaseUrl(raw)).toBe(expected));

  it.each([undefined, null, '', '   ', '/'])('blank %j gives the configured default', (raw) => {
    expect(normalizeUpstreamBaseUrl(raw)).toBe(CONFIG_FIELDS.upstreamBaseUrl.default);
  });

  it.each(['chatgpt.com', 'ftp://example.com/codex', 'not a url'])('rejects %j', (raw) => {
    expect(() => normalizeUpstreamBaseUrl(raw)).toThrow(/CODEX_UPSTREAM_BASE_URL/);
  });

  it('does not echo credentials in the error', () => {
    let message = '';
    try {
      normalizeUpstreamBaseUrl('ftp://user:hunter2@example.com');
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/must use http or https/);
    expect(message).not.toContain('hunter2');
  });
});

describe('joinUpstreamUrl', () => {
  it.each([
    // A Codex backend base drops the path's /v1; a base ending in /v1 does not repeat it.
    ['https://chatgpt.com/backend-api/codex', '/v1/images/generations', 'https://chatgpt.com/backend-api/codex/images/generations'],
    ['https://api.example.com/v1', '/v1/images/edits', 'https://api.example.com/v1/images/edits'],
    // Trailing slash on the base.
    ['https://chatgpt.com/backend-api/codex/', '/v1/images/edits', 'https://chatgpt.com/backend-api/codex/images/edits'],
    ['https://api.example.com/v1/', '/v1/images/edits', 'https://api.example.com/v1/images/edits'],
    // Near misses: no /v1 to strip, or no /v1/ prefix on the path.
    ['https://chatgpt.com/backend-api/codex', '/images/edits', 'https://chatgpt.com/backend-api/codex/images/edits'],
    ['https://chatgpt.com/backend-api/codex', '/v1x/images', 'https://chatgpt.com/backend-api/codex/v1x/images'],
    ['https://api.example.com', '/v1/images/edits', 'https://api.example.com/v1/images/edits'],
    ['https://api.example.com/v2', '/v1/images/edits', 'https://api.example.com/v2/v1/images/edits'],
    ['http://127.0.0.1:9/backend-api/codex', '/v1/images/generations', 'http://127.0.0.1:9/backend-api/codex/images/generations'],
  ])('%s + %s → %s', (base, path, expected) => expect(joinUpstreamUrl(base, path)).toBe(expected));
});

describe('upstreamPathFor', () => {
  it.each(Object.entries(UPSTREAM_PATHS))('%s → %s', (endpoint, path) => {
    expect(upstreamPathFor(endpoint as keyof typeof UPSTREAM_PATHS)).toBe(path);
  });

  it('maps exactly the two image endpoints and the Responses API to their OpenAI paths', () => {
    expect(UPSTREAM_PATHS).toEqual({ generations: '/v1/images/generations', edits: '/v1/images/edits', responses: '/v1/responses' });
  });
});
