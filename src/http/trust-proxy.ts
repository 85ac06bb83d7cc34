import { isIP } from 'node:net';
import { ConfigError } from '../config/config.js';

/** Widest prefix per address family: a CIDR suffix past it names no network. */
const MAX_PREFIX_BITS = { 4: 32, 6: 128 } as const satisfies Record<4 | 6, number>;

/** True for `a.b.c.d`, an IPv6 address, or either followed by `/bits` within the family's width. */
export function isAddressOrCidr(entry: string): boolean {
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= MAX_PREFIX_BITS[family as 4 | 6];
}

/**
 * Turns TRUSTED_PROXIES into Fastify's `trustProxy` option: the list of proxy addresses/CIDRs whose
 * `X-Forwarded-For` is believed, or `false` when the list is empty, so that `req.ip` is the socket
 * peer unless that peer is a configured proxy. A client that talks to the gateway directly can then
 * never choose the address the request log records.
 * @throws ConfigError naming TRUSTED_PROXIES and the entry that is neither an IP address nor a CIDR.
 */
export function parseTrustedProxies(entries: readonly string[]): string[] | false {
  const bad = entries.find((entry) => !isAddressOrCidr(entry));
  if (bad !== undefined) throw new ConfigError(`TRUSTED_PROXIES entries must be IP addresses or CIDR ranges, got ${JSON.stringify(bad)}`);
  return entries.length === 0 ? false : [...entries];
}
