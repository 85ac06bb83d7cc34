import { inspect } from 'node:util';
import type { Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDispatcherPool, PROXY_DISPATCHER_IDLE_TTL_MS, type DispatcherPool } from '../../../src/upstream/dispatcher-pool.js';
import { fakeBehaviors } from '../../support/fake-codex/behaviors.js';
import { createUndiciUpstreamClient } from '../../../src/upstream/undici-upstream-client.js';
import { UPSTREAM_ERROR_CODES, isTransportError } from '../../../src/upstream/upstream-failures.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from '../../support/fake-codex-upstream.js';
import { startConnectProxy, startSocks5Proxy } from './local-proxies.js';
import { drain, rejectionOf, sampleUpstreamRequest, waitFor } from './upstream-test-kit.js';

const ACCOUNT = 'acct-proxy';
const OPTIONS = { connectTimeoutMs: 2000, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 };
const never = new AbortController().signal;

let fake: FakeCodexUpstream;
const pools: DispatcherPool[] = [];
const cleanups: (() => Promise<void>)[] = [];

const makePool = (): DispatcherPool => {
  const pool = createDispatcherPool(OPTIONS);
  pools.push(pool);
  return pool;
};

/** Sends one generation through `proxyUrl`; `host` lets socks tests ask for a name instead of an address. */
async function sendThrough(proxyUrl: string, host = '127.0.0.1'): Promise<number> {
  const baseUrl = fake.baseUrl.replace('127.0.0.1', host);
  const client = createUndiciUpstreamClient({ baseUrl, pool: makePool(), attemptTimeoutMs: 10_000, maxResponseBytes: 1 << 20 });
  const res = await client.send(sampleUpstreamRequest(ACCOUNT, { proxyUrl }), never);
  await drain(res.body);
  return res.status;
}

beforeAll(async () => {
  fake = await startFakeCodexUpstream();
});
afterEach(async () => {
  fake.reset();
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(cleanups.splice(0).map((c) => c()));
});
afterAll(async () => {
  await fake.close();
});

describe('createDispatcherPool: reuse and validation', () => {
  it('gives the same dispatcher for the same way out, and different ones otherwise', () => {
    const pool = makePool();
    expect(pool.get(null)).toBe(pool.get(null));
    expect(pool.get('')).toBe(pool.get(null));
    const a = pool.get('http://127.0.0.1:3128');
    expect(pool.get('http://127.0.0.1:3128')).toBe(a);
    expect(pool.get('HTTP://127.0.0.1:3128/')).toBe(a);
    expect(pool.get('http://127.0.0.1:3129')).not.toBe(a);
    expect(pool.get('http://u:p1@127.0.0.1:3128')).not.toBe(pool.get('http://u:p2@127.0.0.1:3128'));
    expect(pool.get('socks5h://127.0.0.1:1080')).not.toBe(pool.get('socks5://127.0.0.1:1080'));
    expect(a).not.toBe(pool.get(null));
  });

  it.each(['ftp://user:s3cret-pw@127.0.0.1:21', 'socks4://user:s3cret-pw@127.0.0.1:1080', 'user:s3cret-pw@nowhere', 'http://'])(
    'rejects %s with INVALID_PROXY_URL, without echoing it',
    (raw) => {
      const err = rejectionOfSync(() => makePool().get(raw));
      expect((err as { code?: string }).code).toBe('INVALID_PROXY_URL');
      expect((err as Error).name).toBe('InvalidProxyUrlError');
      expect(inspect(err)).not.toContain('s3cret-pw');
    },
  );

  it.each([{ connectTimeoutMs: 0 }, { headersTimeoutMs: -1 }, { bodyTimeoutMs: 1.5 }, { idleTtlMs: 0 }])('checks its options at construction (%j)', (bad) => {
    expect(() => createDispatcherPool({ ...OPTIONS, ...bad })).toThrow(RangeError);
  });

  it('refuses to hand out dispatchers once closed', async () => {
    const pool = createDispatcherPool(OPTIONS);
    await pool.close();
    expect(() => pool.get(null)).toThrow(/closed/);
  });
});

function rejectionOfSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('createDispatcherPool: http proxy', () => {
  it('tunnels through CONNECT with the credentials from the URL', async () => {
    const proxy = await startConnectProxy({ requireAuth: 'user:p@ss' });
    cleanups.push(proxy.close);
    const proxyUrl = `http://user:p%40ss@127.0.0.1:${proxy.port}`;
    expect(await sendThrough(proxyUrl)).toBe(200);
    expect(proxy.seen).toEqual([{ target: new URL(fake.url).host, proxyAuthorization: `Basic ${Buffer.from('user:p@ss').toString('base64')}` }]);
    expect(fake.requests[0]?.accountId).toBe(ACCOUNT);
  });

  it('a proxy refusing the tunnel is a transport error', async () => {
    const proxy = await startConnectProxy({ requireAuth: 'user:right' });
    cleanups.push(proxy.close);
    const err = await rejectionOf(sendThrough(`http://user:wrong@127.0.0.1:${proxy.port}`));
    expect(isTransportError(err)).toBe(true);
    expect(inspect(err)).not.toContain('wrong');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('createDispatcherPool: socks proxies', () => {
  const credentials = { user: 'sockuser', password: 'sockpw-secret' };

  it('socks5h sends the host name for the proxy to resolve', async () => {
    const proxy = await startSocks5Proxy({ credentials });
    cleanups.push(proxy.close);
    const url = `socks5h://${credentials.user}:${credentials.password}@127.0.0.1:${proxy.port}`;
    expect(await sendThrough(url, 'localhost')).toBe(200);
    expect(proxy.seen).toEqual([{ addressType: 'domain', host: 'localhost', port: Number(new URL(fake.url).port), ...credentials }]);
  });

  it('socks5 resolves the name locally and sends an address', async () => {
    const proxy = await startSocks5Proxy();
    cleanups.push(proxy.close);
    expect(await sendThrough(`socks5://127.0.0.1:${proxy.port}`, 'localhost')).toBe(200);
    expect(proxy.seen).toHaveLength(1);
    expect(proxy.seen[0]?.addressType).not.toBe('domain');
  });

  it('reuses the tunnelled connection for the next request (keep-alive)', async () => {
    const proxy = await startSocks5Proxy();
    cleanups.push(proxy.close);
    const client = createUndiciUpstreamClient({
      baseUrl: fake.baseUrl,
      pool: makePool(),
      attemptTimeoutMs: 10_000,
      maxResponseBytes: 1 << 20,
    });
    const req = sampleUpstreamRequest(ACCOUNT, { proxyUrl: `socks5://127.0.0.1:${proxy.port}` });
    for (let i = 0; i < 6; i += 1) await drain((await client.send(req, never)).body);
    expect(fake.requests).toHaveLength(6);
    // undici may open a second connection while the first is being released; after that, reuse.
    expect(proxy.seen.length).toBeLessThanOrEqual(2);
  });

  it('a rejected socks login is a transport error that carries no password', async () => {
    const proxy = await startSocks5Proxy({ credentials });
    cleanups.push(proxy.close);
    const err = await rejectionOf(sendThrough(`socks5h://${credentials.user}:bad-secret-pw@127.0.0.1:${proxy.port}`));
    expect(isTransportError(err)).toBe(true);
    expect((err as { code?: string }).code).toBe(UPSTREAM_ERROR_CODES.socksProxy);
    expect(inspect(err, { depth: 5 })).not.toContain('bad-secret-pw');
    expect(JSON.stringify(err)).not.toContain('bad-secret-pw');
  });

  it('an unreachable socks proxy is a transport error', async () => {
    const proxy = await startSocks5Proxy();
    await proxy.close();
    const err = await rejectionOf(sendThrough(`socks5h://127.0.0.1:${proxy.port}`));
    expect(isTransportError(err)).toBe(true);
  });
});

describe('createDispatcherPool: idle proxy dispatchers are closed and evicted', () => {
  const TTL = PROXY_DISPATCHER_IDLE_TTL_MS;
  let clock = 0;
  const isClosed = (d: Dispatcher) => (d as Dispatcher & { closed: boolean }).closed;

  /** A pool on a hand-moved clock whose sweeps run when the test advances the (faked) interval timer. */
  const makeClockedPool = (): DispatcherPool => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const pool = createDispatcherPool({ ...OPTIONS, now: () => clock });
    pools.push(pool);
    return pool;
  };
  /** Moves the clock by `ms` and lets every sweep due in that time run. */
  const pass = (ms: number) => {
    clock += ms;
    vi.advanceTimersByTime(ms);
  };
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes a proxy dispatcher unused for the idle TTL; the next request through that proxy gets a new one that works', async () => {
    const proxy = await startConnectProxy();
    cleanups.push(proxy.close);
    const pool = makeClockedPool();
    const client = createUndiciUpstreamClient({ baseUrl: fake.baseUrl, pool, attemptTimeoutMs: 10_000, maxResponseBytes: 1 << 20 });
    const proxyUrl = `http://127.0.0.1:${proxy.port}`;
    const direct = pool.get(null);
    const first = pool.get(proxyUrl);
    expect((await client.send(sampleUpstreamRequest(ACCOUNT, { proxyUrl }), never)).status).toBe(200);

    pass(TTL - 1);
    expect(pool.get(proxyUrl)).toBe(first); // still within its TTL (and that use starts the TTL over)
    pass(TTL / 2);
    expect(isClosed(first)).toBe(false);
    pass(TTL);
    expect(isClosed(first)).toBe(true);
    expect(isClosed(direct)).toBe(false); // the direct dispatcher lives as long as the pool
    expect(pool.get(null)).toBe(direct);

    const second = pool.get(proxyUrl);
    expect(second).not.toBe(first);
    const res = await client.send(sampleUpstreamRequest(ACCOUNT, { proxyUrl }), never);
    await drain(res.body);
    expect(res.status).toBe(200);
    expect(fake.requests).toHaveLength(2);
  });

  it('never closes a dispatcher with a request in flight; once the request ends, the TTL counts from then', async () => {
    const proxy = await startSocks5Proxy();
    cleanups.push(proxy.close);
    const pool = makeClockedPool();
    const client = createUndiciUpstreamClient({ baseUrl: fake.baseUrl, pool, attemptTimeoutMs: 3_600_000, maxResponseBytes: 1 << 20 });
    const proxyUrl = `socks5://127.0.0.1:${proxy.port}`;
    fake.setBehavior(ACCOUNT, [fakeBehaviors.stallBody(Number.POSITIVE_INFINITY)]);
    const dispatcher = pool.get(proxyUrl);
    const res = await client.send(sampleUpstreamRequest(ACCOUNT, { proxyUrl }), never);
    expect(res.status).toBe(200); // headers in, the body still coming

    pass(3 * TTL);
    expect(isClosed(dispatcher)).toBe(false);
    expect(pool.get(proxyUrl)).toBe(dispatcher);

    res.body.destroy(); // the reader gives up: the request ends with an error
    await waitFor(() => {
      pass(TTL);
      return isClosed(dispatcher);
    });
    expect(pool.get(proxyUrl)).not.toBe(dispatcher);
  });
});

describe('createDispatcherPool: retainOnly evicts the proxies no account uses any more', () => {
  const isClosed = (d: Dispatcher) => (d as Dispatcher & { closed: boolean }).closed;
  const clientOf = (pool: DispatcherPool) => createUndiciUpstreamClient({ baseUrl: fake.baseUrl, pool, attemptTimeoutMs: 10_000, maxResponseBytes: 1 << 20 });

  it("closes an unlisted proxy's dispatcher at once (the proxy sees its kept-alive tunnel close); listed ones and direct stay", async () => {
    const gone = await startSocks5Proxy();
    const kept = await startConnectProxy();
    cleanups.push(gone.close, kept.close);
    const pool = makePool();
    const client = clientOf(pool);
    const direct = pool.get(null);
    for (const proxyUrl of [gone.url, kept.url]) {
      const res = await client.send(sampleUpstreamRequest(ACCOUNT, { proxyUrl }), never);
      expect((await drain(res.body)).error).toBeNull();
    }
    const [goneDispatcher, keptDispatcher] = [pool.get(gone.url), pool.get(kept.url)];
    expect([gone.openConnections(), kept.openConnections()]).toEqual([1, 1]); // kept alive for reuse

    // Listed in another spelling of the same URL: still the same proxy, still kept.
    pool.retainOnly([`HTTP://127.0.0.1:${kept.port}/`, null, 'not a url']);
    expect(isClosed(goneDispatcher)).toBe(true);
    await waitFor(() => gone.openConnections() === 0);
    expect(isClosed(keptDispatcher)).toBe(false);
    expect(pool.get(kept.url)).toBe(keptDispatcher);
    expect(kept.openConnections()).toBe(1);
    expect(pool.get(null)).toBe(direct);
    expect(isClosed(direct)).toBe(false);

    // An account that takes the evicted proxy up again gets a fresh dispatcher, and it works.
    const fresh = pool.get(gone.url);
    expect(fresh).not.toBe(goneDispatcher);
    const res = await client.send(sampleUpstreamRequest(ACCOUNT, { proxyUrl: gone.url }), never);
    expect((await drain(res.body)).error).toBeNull();
    expect(gone.seen).toHaveLength(2);

    pool.retainOnly([]); // no account left on any proxy
    expect(isClosed(fresh) && isClosed(keptDispatcher)).toBe(true);
    await waitFor(() => gone.openConnections() === 0 && kept.openConnections() === 0);
    expect(isClosed(direct)).toBe(false);
  });

  it('a request in flight through an evicted proxy still reads its whole body; the tunnel closes after it', async () => {
    const proxy = await startConnectProxy();
    cleanups.push(proxy.close);
    const pool = makePool();
    fake.setBehavior(ACCOUNT, [fakeBehaviors.stallBody(1_000)]);
    const res = await clientOf(pool).send(sampleUpstreamRequest(ACCOUNT, { proxyUrl: proxy.url }), never);
    expect(res.status).toBe(200); // headers in, the body stalls half-way
    const dispatcher = pool.get(proxy.url);

    pool.retainOnly([null]);
    expect(isClosed(dispatcher)).toBe(true);
    expect(pool.get(proxy.url)).not.toBe(dispatcher);
    expect(proxy.openConnections()).toBe(1); // a graceful close: the running request keeps its tunnel

    const { bytes, error } = await drain(res.body);
    expect(error).toBeNull();
    expect((JSON.parse(bytes.toString('utf8')) as { data: unknown[] }).data).toHaveLength(1);
    await waitFor(() => proxy.openConnections() === 0);
  });

  it('is a no-op once the pool is closed', async () => {
    const pool = createDispatcherPool(OPTIONS);
    pool.get('http://127.0.0.1:3128');
    await pool.close();
    expect(() => pool.retainOnly([])).not.toThrow();
  });
});
