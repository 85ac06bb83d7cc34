import { describe, expect, it } from 'vitest';
import { maskProxyUrl, parseAccountProxy } from '../../../src/control/proxy-input.js';

const MESSAGE = 'proxy must be an http, https, socks5 or socks5h URL';

describe('parseAccountProxy', () => {
  it.each(['http://127.0.0.1:8080', 'https://proxy.example:443', 'socks5://u:p@127.0.0.1:1080', 'socks5h://127.0.0.1:1080', ' HTTP://host:1 '])(
    'accepts %s',
    (url) => {
      expect(parseAccountProxy(url, 'proxy_url')).toBe(url.trim());
    },
  );

  it.each([null, '', '   '])('treats %j as a direct connection', (value) => {
    expect(parseAccountProxy(value, 'proxy_url')).toBeNull();
  });

  it.each(['ftp://host:21', 'socks4://host:1080', 'host:8080', 'http://', 'not a url', 42, { url: 'http://x' }])('rejects %j', (value) => {
    expect(() => parseAccountProxy(value, 'proxy_url')).toThrow(expect.objectContaining({ code: 'invalid_request', message: MESSAGE, param: 'proxy_url' }));
  });

  it('never echoes a rejected URL (it may carry a password)', () => {
    expect(() => parseAccountProxy('gopher://user:hunter2@host', 'proxy_url')).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('hunter2') }),
    );
  });
});

describe('maskProxyUrl', () => {
  it.each([
    ['http://user:hunter2@127.0.0.1:8080', 'http://user:***@127.0.0.1:8080'],
    ['socks5h://token-only@127.0.0.1:1080', 'socks5h://***@127.0.0.1:1080'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['socks5://u:p@host:1080/path', 'socks5://u:***@host:1080/path'],
    ['::', '(invalid proxy URL)'],
  ])('%s → %s', (raw, shown) => {
    expect(maskProxyUrl(raw)).toBe(shown);
  });
});
