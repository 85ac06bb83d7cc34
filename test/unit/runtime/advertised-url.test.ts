import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { resolveAdvertisedUrl } from '../../../src/runtime/advertised-url.js';

describe('resolveAdvertisedUrl', () => {
  it.each([
    ['a loopback listener as bound', null, 'http://127.0.0.1:19091', 'http://127.0.0.1:19091'],
    ['a specific address as bound', null, 'http://10.0.0.5:19082', 'http://10.0.0.5:19082'],
    ['IPv4 wildcard → the hostname', null, 'http://0.0.0.0:19082', 'http://node-7:19082'],
    ['IPv6 wildcard → the hostname', null, 'http://[::]:19082', 'http://node-7:19082'],
    ['IPv6 loopback kept', null, 'http://[::1]:19082', 'http://[::1]:19082'],
    ['ADVERTISE_URL wins', 'https://gw-3.internal:8443', 'http://0.0.0.0:19082', 'https://gw-3.internal:8443'],
  ])('%s', (_case, configured, bound, expected) => {
    expect(resolveAdvertisedUrl(configured, bound, 'node-7')).toBe(expected);
  });
});

describe('ADVERTISE_URL', () => {
  it('is kept without a trailing slash', () => {
    expect(loadConfig({ ADVERTISE_URL: 'http://10.0.0.5:19082/' }).advertiseUrl).toBe('http://10.0.0.5:19082');
  });

  it.each(['10.0.0.5:19082', 'ftp://10.0.0.5', 'http://user:pw@10.0.0.5:19082', 'http://10.0.0.5:19082/?x=1'])('refuses %s, naming the variable', (value) => {
    expect(() => loadConfig({ ADVERTISE_URL: value })).toThrow(/^ADVERTISE_URL must/);
  });
});
