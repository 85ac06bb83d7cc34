import { Agent, Pool, ProxyAgent, type Dispatcher } from 'undici';
import { parseProxyUrl, type ParsedProxyUrl } from './proxy-url.js';
import { buildSocksConnector } from './socks-connector.js';

/**
 * How long an idle upstream connection is kept for reuse when the server gives no `Keep-Alive` hint
 * (the original's 90 s pool idle timeout, spec §5.3). Generations are slow and sparse, so reuse saves
 * little time; the value only has to be shorter than the upstream's own idle cut-off.
 */
const KEEP_ALIVE_TIMEOUT_MS = 90_000;

/** TCP keep-alive probe delay on direct and proxied sockets (spec §5.3: 30 s). */
const TCP_KEEPALIVE_INITIAL_DELAY_MS = 30_000;

export interface DispatcherPoolOptions {
  /** TCP (and TLS, SOCKS, CONNECT) establishment limit. */
  connectTimeoutMs: number;
  /** Wait for response headers (covers the whole generation time: minutes). */
  headersTimeoutMs: number;
  /** Longest silence while reading a response body (inactivity, not total). */
  bodyTimeoutMs: number;
}

/** One undici dispatcher per way out: direct, or one per distinct proxy URL; reused across requests. */
export interface DispatcherPool {
  /**
   * The dispatcher for a proxy URL (null = direct). The same URL always gives the same object.
   * @throws InvalidProxyUrlError (`code: 'INVALID_PROXY_URL'`) for a bad URL, before any connection.
   */
  get(proxyUrl: string | null): Dispatcher;
  /** Closes every dispatcher, letting in-flight requests finish; later `get` calls throw. */
  close(): Promise<void>;
}

function checkPositive(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer (ms)`);
}

function buildProxyDispatcher(proxy: ParsedProxyUrl, opts: DispatcherPoolOptions, common: Agent.Options): Dispatcher {
  if (proxy.kind === 'http') {
    const tls = { timeout: opts.connectTimeoutMs };
    return new ProxyAgent({
      ...common,
      uri: proxy.url.href,
      proxyTls: tls,
      requestTls: tls,
      // The CONNECT exchange with the proxy must not wait as long as a generation does.
      clientFactory: (origin, clientOpts) => new Pool(origin, { ...clientOpts, headersTimeout: opts.connectTimeoutMs }),
    });
  }
  const connect = buildSocksConnector({
    proxy: proxy.url,
    remoteDns: proxy.kind === 'socks5h',
    connectTimeoutMs: opts.connectTimeoutMs,
  });
  return new Agent({ ...common, connect });
}

/**
 * Creates the pool of upstream dispatchers. Options are checked here, not on first use. Each
 * dispatcher keeps connections alive and applies the connect, headers and body-inactivity timeouts;
 * the whole-attempt limit is the client's job. Proxy URLs (and their passwords) are used only as
 * map keys and dispatcher arguments, never logged.
 */
export function createDispatcherPool(opts: DispatcherPoolOptions): DispatcherPool {
  checkPositive('connectTimeoutMs', opts.connectTimeoutMs);
  checkPositive('headersTimeoutMs', opts.headersTimeoutMs);
  checkPositive('bodyTimeoutMs', opts.bodyTimeoutMs);
  const common: Agent.Options = {
    headersTimeout: opts.headersTimeoutMs,
    bodyTimeout: opts.bodyTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  };
  const direct = new Agent({
    ...common,
    connect: { timeout: opts.connectTimeoutMs, keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_INITIAL_DELAY_MS },
  });
  // Keyed by the normalised URL (one dispatcher per proxy), with the raw string as a fast path.
  const byHref = new Map<string, Dispatcher>();
  const byRaw = new Map<string, Dispatcher>();
  let closed = false;

  const resolveProxyDispatcher = (raw: string): Dispatcher => {
    const proxy = parseProxyUrl(raw);
    const dispatcher = byHref.get(proxy.url.href) ?? buildProxyDispatcher(proxy, opts, common);
    byHref.set(proxy.url.href, dispatcher);
    byRaw.set(raw, dispatcher);
    return dispatcher;
  };

  return {
    get(proxyUrl) {
      if (closed) throw new Error('dispatcher pool is closed');
      if (proxyUrl === null || proxyUrl.trim() === '') return direct;
      return byRaw.get(proxyUrl) ?? resolveProxyDispatcher(proxyUrl);
    },
    async close() {
      closed = true;
      const all = [direct, ...byHref.values()];
      byHref.clear();
      byRaw.clear();
      await Promise.all(all.map((d) => d.close()));
    },
  };
}
