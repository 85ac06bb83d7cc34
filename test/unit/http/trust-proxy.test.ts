import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config.js';
import { isAddressOrCidr, parseTrustedProxies } from '../../../src/http/trust-proxy.js';

describe('isAddressOrCidr', () => {
  it.each(['127.0.0.1', '10.0.0.0/8', '192.168.1.0/24', '0.0.0.0/0', '203.0.113.9/32', '::1', 'fd00::/8', '::ffff:127.0.0.1', '2001:db8::/128'])(
    'accepts %s',
    (entry) => expect(isAddressOrCidr(entry)).toBe(true),
  );
  it.each([
    ['a host name', 'localhost'],
    ['an IPv4 prefix past 32', '10.0.0.0/33'],
    ['an IPv6 prefix past 128', '::1/129'],
    ['an empty prefix', '10.0.0.0/'],
    ['a netmask instead of bits', '10.0.0.0/255.0.0.0'],
    ['two slashes', '10.0.0.0/8/8'],
    ['a signed prefix', '10.0.0.0/-1'],
    ['a truncated address', '10.0.0'],
    ['a port', '127.0.0.1:8080'],
    ['a proxy-addr keyword (we only take addresses)', 'loopback'],
  ])('rejects %s', (_why, entry) => expect(isAddressOrCidr(entry)).toBe(false));
});

describe('parseTrustedProxies', () => {
  it('trusts no proxy when the list is empty (Fastify then uses the socket peer)', () => {
    expect(parseTrustedProxies([])).toBe(false);
  });

  it('passes a valid list through as a new array', () => {
    const entries = ['127.0.0.1', '::1', '10.0.0.0/8'];
    const parsed = parseTrustedProxies(entries);
    expect(parsed).toEqual(entries);
    expect(parsed).not.toBe(entries);
  });

  it('refuses the whole list when one entry is not an address, naming the setting and the entry', () => {
    expect(() => parseTrustedProxies(['127.0.0.1', 'caddy.internal'])).toThrow(ConfigError);
    expect(() => parseTrustedProxies(['127.0.0.1', 'caddy.internal'])).toThrow(/TRUSTED_PROXIES.*"caddy\.internal"/);
  });
});
