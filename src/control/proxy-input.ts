import { GatewayError } from '../errors/codes.js';
import { parseProxyUrl } from '../upstream/proxy-url.js';

/**
 * An account's proxy as an operator gives it: null or '' = direct, else an http, https, socks5 or
 * socks5h URL with a host. The message never echoes the URL (it may carry a password).
 */
export function parseAccountProxy(value: unknown, param: string): string | null {
  if (value === null || (typeof value === 'string' && value.trim() === '')) return null;
  const message = 'proxy must be an http, https, socks5 or socks5h URL';
  if (typeof value !== 'string') throw new GatewayError('invalid_request', message, param);
  try {
    parseProxyUrl(value);
    return value.trim();
  } catch {
    throw new GatewayError('invalid_request', message, param);
  }
}

/**
 * The proxy URL as operators see it: the password replaced by `***` (a user name without a
 * password is masked too, since some proxies take the secret there). Unparseable input gives
 * '(invalid proxy URL)'.
 */
export function maskProxyUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return '(invalid proxy URL)';
  }
  const auth = url.password ? `${url.username}:***@` : url.username ? '***@' : '';
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.protocol}//${auth}${url.host}${path}`;
}
