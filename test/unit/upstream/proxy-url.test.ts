import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config.js';
import { InvalidProxyUrlError, parseProxyUrl } from '../../../src/upstream/proxy-url.js';

describe('parseProxyUrl', () => {
  it.each([
    ['http://proxy.example.com:3128', 'http', 'proxy.example.com'],
    ['https://u:p@proxy.example.com', 'http', 'proxy.example.com'],
    ['HTTP://PROXY.example.com:8080', 'http', 'proxy.example.com'],
    ['socks5://127.0.0.1:1080', 'socks5', '127.0.0.1'],
    ['socks5h://user:pass@proxy.example.com:1080', 'socks5h', 'proxy.example.com'],
    ['  socks5h://[::1]:1080  ', 'socks5h', '[::1]'],
  ])('%s is a %s proxy at %s', (raw, kind, host) => {
    const parsed = parseProxyUrl(raw);
    expect(parsed.kind).toBe(kind);
    expect(parsed.url.hostname).toBe(host);
  });

  it.each([
    ['not a url', /not a valid URL/],
    ['proxy.example.com:3128', /must use http, https, socks5 or socks5h/],
    ['socks4://u:topsecret@h:1080', /must use/],
    ['socks://h:1080', /must use/],
    ['ftp://u:topsecret@h', /must use/],
    ['http://', /not a valid URL/],
    ['socks5://:1080', /must name a host|not a valid URL/],
  ])('rejects %j', (raw, message) => {
    let caught: unknown;
    try {
      parseProxyUrl(raw);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidProxyUrlError);
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as InvalidProxyUrlError).code).toBe('INVALID_PROXY_URL');
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toContain('topsecret');
  });
});
