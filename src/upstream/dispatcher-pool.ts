import { Agent, Pool, ProxyAgent, type Dispatcher } from 'undici';
import { parseProxyUrl, type ParsedProxyUrl } from './proxy-url.js';
import { buildSocksConnector } from './socks-connector.js';

/**
 * How long an idle upstream connection is kept for reuse when the server gives no `Keep-Alive` hint
 * (the original's 90 s pool idle timeout). Generations are slow and sparse, so reuse saves
 * little time; the value only has to be shorter than the upstream's own idle cut-off.
 */
const KEEP_ALIVE_TIMEOUT_MS = 90_000;

/** TCP keep-alive probe delay on direct and proxied sockets (30 s). */
const TCP_KEEPALIVE_INITIAL_DELAY_MS = 30_000;

/**
 * A proxy dispatcher unused this long (no request in flight, none started) is closed and forgotten;
 * the next request through that proxy builds a new one. The direct dispatcher is kept for the pool's
 * life. A backstop: an owner that knows which proxies its accounts use evicts the others at once
 * (`retainOnly`, the data plane at every snapshot load); the token refresher's pool has no such
 * feed, and reaches a proxy about once per token lifetime, so without this its agents would pile up.
 */
export const PROXY_DISPATCHER_IDLE_TTL_MS = 10 * 60_000;

export interface DispatcherPoolOptions {
  /** TCP (and TLS, SOCKS, CONNECT) establishment limit. */
  connectTimeoutMs: number;
  /** Wait for response headers (covers the whole generation time: minutes). */
  headersTimeoutMs: number;
  /** Longest silence while reading a response body (inactivity, not total). */
  bodyTimeoutMs: number;
  /** Idle time after which a proxy dispatcher is closed (default PROXY_DISPATCHER_IDLE_TTL_MS). */
  idleTtlMs?: number;
  /** Clock for the idle check (tests); default Date.now. */
  now?: () => number;
}

/** One undici dispatcher per way out: direct, or one per distinct proxy URL; reused across requests. */
export interface DispatcherPool {
  /**
   * The dispatcher for a proxy URL (null = direct). The same URL gives the same object until that
   * proxy's dispatcher is evicted: by `retainOnly`, or after sitting idle for the idle TTL.
   * @throws InvalidProxyUrlError (`code: 'INVALID_PROXY_URL'`) for a bad URL, before any connection.
   */
  get(proxyUrl: string | null): Dispatcher;
  /**
   * Closes and forgets the dispatcher of every proxy not in `proxyUrls` (compared normalised, as in
   * `get`; null, empty and unparseable entries keep nothing). The close is graceful: requests in
   * flight on an evicted dispatcher run to the end of their response body, new ones go to a fresh
   * dispatcher that the next `get` builds. Idempotent, cheap enough to call at every snapshot load.
   */
  retainOnly(proxyUrls: Iterable<string | null>): void;
  /** Closes every dispatcher, letting in-flight requests finish; later `get` calls throw. */
  close(): Promise<void>;
}

/** One proxy's dispatcher, with what eviction needs: requests in flight and the last use. */
interface ProxyEntry {
  href: string;
  dispatcher: Dispatcher;
  inFlight: number;
  lastUsedMs: number;
}

/**
 * Wraps `dispatcher` so `entry` counts its requests from dispatch until the response ends or fails
 * (the body included, as undici reports it), stamping the last use at both ends.
 */
function trackUse(dispatcher: Dispatcher, entry: Omit<ProxyEntry, 'dispatcher'>, now: () => number): Dispatcher {
  return dispatcher.compose((dispatch) => (opts, handler) => {
    entry.inFlight += 1;
    entry.lastUsedMs = now();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      entry.inFlight -= 1;
      entry.lastUsedMs = now();
    };
    try {
      return dispatch(opts, {
        onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
        onRequestUpgrade: (controller, status, headers, socket) => {
          finish();
          handler.onRequestUpgrade?.(controller, status, headers, socket);
        },
        onResponseStart: (controller, status, headers, message) => handler.onResponseStart?.(controller, status, headers, message),
        onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
        onResponseEnd: (controller, trailers) => {
          finish();
          handler.onResponseEnd?.(controller, trailers);
        },
        onResponseError: (controller, err) => {
          finish();
          handler.onResponseError?.(controller, err);
        },
      });
    } catch (err) {
      finish();
      throw err;
    }
  });
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
  const idleTtlMs = opts.idleTtlMs ?? PROXY_DISPATCHER_IDLE_TTL_MS;
  checkPositive('idleTtlMs', idleTtlMs);
  const now = opts.now ?? Date.now;
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
  const byHref = new Map<string, ProxyEntry>();
  const byRaw = new Map<string, ProxyEntry>();
  let closed = false;

  const resolveProxyEntry = (raw: string): ProxyEntry => {
    const proxy = parseProxyUrl(raw);
    let entry = byHref.get(proxy.url.href);
    if (!entry) {
      const counts = { href: proxy.url.href, inFlight: 0, lastUsedMs: now() };
      entry = Object.assign(counts, { dispatcher: trackUse(buildProxyDispatcher(proxy, opts, common), counts, now) });
      byHref.set(entry.href, entry);
    }
    byRaw.set(raw, entry);
    return entry;
  };

  /**
   * Forgets a proxy's dispatcher and closes it. undici's `close` refuses new requests and resolves once
   * those in flight have ended, so nothing running is cut; a failure to close harms no request.
   */
  const evict = (entry: ProxyEntry): void => {
    byHref.delete(entry.href);
    for (const [raw, e] of byRaw) if (e === entry) byRaw.delete(raw);
    entry.dispatcher.close().catch(() => undefined);
  };

  /** Closes and forgets the proxy dispatchers with nothing in flight that sat idle for the TTL. */
  const evictIdle = (): void => {
    const at = now();
    for (const entry of [...byHref.values()]) {
      if (entry.inFlight === 0 && at - entry.lastUsedMs >= idleTtlMs) evict(entry);
    }
  };

  /** The normalised key of a proxy URL, or null for direct and for a URL no dispatcher could exist for. */
  const hrefOf = (raw: string | null): string | null => {
    if (raw === null || raw.trim() === '') return null;
    const known = byRaw.get(raw);
    if (known) return known.href;
    try {
      return parseProxyUrl(raw).url.href;
    } catch {
      return null;
    }
  };
  // Checked a few times per TTL, so an idle dispatcher lives at most about 1.25 TTL; never keeps the process up.
  const sweeper = setInterval(evictIdle, Math.max(1, Math.floor(idleTtlMs / 4)));
  sweeper.unref();

  return {
    get(proxyUrl) {
      if (closed) throw new Error('dispatcher pool is closed');
      if (proxyUrl === null || proxyUrl.trim() === '') return direct;
      const entry = byRaw.get(proxyUrl) ?? resolveProxyEntry(proxyUrl);
      // Handed out now, used a moment later: the stamp keeps it from being evicted in between.
      entry.lastUsedMs = now();
      return entry.dispatcher;
    },
    retainOnly(proxyUrls) {
      const kept = new Set<string | null>();
      for (const raw of proxyUrls) kept.add(hrefOf(raw));
      for (const entry of [...byHref.values()]) if (!kept.has(entry.href)) evict(entry);
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      const all = [direct, ...[...byHref.values()].map((e) => e.dispatcher)];
      byHref.clear();
      byRaw.clear();
      await Promise.all(all.map((d) => d.close()));
    },
  };
}
