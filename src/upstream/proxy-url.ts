import { ConfigError } from '../config/config.js';

/** Proxy schemes an account may use, and how each is dialled. */
export const PROXY_SCHEMES = {
  'http:': 'http',
  'https:': 'http',
  'socks5:': 'socks5',
  'socks5h:': 'socks5h',
} as const satisfies Record<string, ProxyKind>;

/**
 * `http` covers http and https proxies (CONNECT tunnel through undici's ProxyAgent); `socks5` resolves
 * the target name locally and sends an address; `socks5h` sends the name for the proxy to resolve.
 */
export type ProxyKind = 'http' | 'socks5' | 'socks5h';

/** A validated proxy URL. May hold credentials: never log `url` (operators see it through control/proxy-input.ts maskProxyUrl). */
export interface ParsedProxyUrl {
  kind: ProxyKind;
  url: URL;
}

/** A proxy URL that cannot be used. The message never echoes the URL (it may carry a password). */
export class InvalidProxyUrlError extends ConfigError {
  readonly code = 'INVALID_PROXY_URL';
  override name = 'InvalidProxyUrlError';
}

/**
 * Parses and validates an account's proxy URL: http, https, socks5 or socks5h, with a host,
 * credentials optional (`scheme://user:pass@host:port`). Called when a dispatcher is first made for
 * the URL, and usable by the control plane to reject a bad URL when it is saved.
 * @throws InvalidProxyUrlError (`code: 'INVALID_PROXY_URL'`).
 */
export function parseProxyUrl(raw: string): ParsedProxyUrl {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new InvalidProxyUrlError('proxy URL is not a valid URL');
  }
  const scheme = url.protocol.toLowerCase();
  if (!Object.hasOwn(PROXY_SCHEMES, scheme)) {
    throw new InvalidProxyUrlError('proxy URL must use http, https, socks5 or socks5h');
  }
  if (url.hostname === '') throw new InvalidProxyUrlError('proxy URL must name a host');
  return { kind: PROXY_SCHEMES[scheme as keyof typeof PROXY_SCHEMES], url };
}
