import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCodexUpstream } from '../support/fake-codex-upstream.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';
import { startConnectProxy, type ConnectRecord, type LocalProxy } from '../unit/upstream/local-proxies.js';

/**
 * A proxy's upstream dispatcher lives only while an account that image requests may be routed to
 * uses that proxy: each control change reloads the snapshot, and the reload closes the rest.
 * Observed from the proxy's side: the kept-alive tunnel of the last request closes.
 */
let h: GatewayHarness;
let proxy: LocalProxy<ConnectRecord>;
let secret: string;
const ACCOUNT = 'via-proxy';

beforeAll(async () => {
  proxy = await startConnectProxy();
  // Kept-alive connections outlive every wait here: a tunnel that closes was closed by the gateway.
  h = await startGatewayHarness({ fake: await startFakeCodexUpstream({ keepAliveTimeoutMs: 120_000 }) });
  await h.admin.accounts.import({ auth: makeCodexAuthJson({ accountId: ACCOUNT }), name: ACCOUNT, proxyUrl: proxy.url });
  secret = (await h.createKey({ routing: { mode: 'accounts', accounts: [ACCOUNT] } })).secret;
});
afterAll(async () => {
  await h?.stop();
  await h?.fake.close();
  await proxy?.close();
});

/** One generation; resolves once its whole answer is read. */
async function generate(): Promise<number> {
  const res = await fetch(`${h.gatewayUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a lighthouse' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Sends a request through the proxy and checks that its tunnel stays open for reuse afterwards. */
async function generateThroughProxy(): Promise<void> {
  const tunnels = proxy.seen.length;
  expect(await generate()).toBe(200);
  expect(proxy.seen).toHaveLength(tunnels + 1);
  expect(proxy.openConnections()).toBe(1);
}

const tunnelClosed = () => waitFor('the proxy to see its tunnel close', () => proxy.openConnections() === 0);

describe('a proxy no account uses any more gives back its connections at once', () => {
  it("when the account's proxy is removed; its next request goes direct", async () => {
    await generateThroughProxy();
    await h.admin.accounts.update(ACCOUNT, { proxyUrl: null });
    await tunnelClosed();
    const tunnels = proxy.seen.length;
    expect(await generate()).toBe(200);
    expect(proxy.seen).toHaveLength(tunnels);
  });

  it('when the account is disabled, or can no longer make images', async () => {
    await h.admin.accounts.update(ACCOUNT, { proxyUrl: proxy.url });
    await waitFor('the new proxy to be routed', async () => (await generate()) === 200 && proxy.openConnections() === 1);
    await h.admin.accounts.update(ACCOUNT, { status: 'disabled' });
    await tunnelClosed();

    await h.admin.accounts.update(ACCOUNT, { status: 'active' });
    await waitFor('the account to be routed again', async () => (await generate()) === 200);
    expect(proxy.openConnections()).toBe(1);
    await h.admin.accounts.update(ACCOUNT, { imageEnabled: false });
    await tunnelClosed();
  });

  it('when the account is deleted', async () => {
    await h.admin.accounts.update(ACCOUNT, { imageEnabled: true });
    await waitFor('the account to be routed again', async () => (await generate()) === 200);
    expect(proxy.openConnections()).toBe(1);
    await h.admin.accounts.delete(ACCOUNT);
    await tunnelClosed();
  });
});
