import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteStatusReader } from '../../src/control/gateway-status.js';
import { listConfiguredTargets } from '../../src/control/status-targets.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
let adminToken: string;

beforeAll(async () => {
  // Short failure backoff so recovery is quick; refresh scans are rare so only 401s trigger refreshes.
  h = await startGatewayHarness({ env: { FAILURE_BACKOFF_BASE_MS: '400', FAILURE_BACKOFF_MAX_MS: '2000', TOKEN_REFRESH_SCAN_MS: '3600000' } });
  adminToken = (await readFile(join(h.dataDir, 'admin-token'), 'utf8')).trim();
}, 60_000);
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

/** An account (own auth, so the test knows its tokens) and a key routed only to the given accounts. */
async function setup(accountIds: string[]) {
  const auths = new Map<string, ReturnType<typeof makeCodexAuthJson>>();
  for (const id of accountIds) {
    const auth = makeCodexAuthJson({ accountId: id, lastRefresh: new Date(Date.now() - 3_600_000).toISOString() });
    auths.set(id, auth);
    await h.admin.accounts.import({ auth, name: id });
  }
  const key = await h.createKey({ routing: { mode: 'accounts', accounts: accountIds } });
  const generate = () =>
    fetch(`${h.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a lighthouse' }),
    });
  return { auths, generate };
}

type ErrorBody = { error: { code: string; message: string } };
const adminCall = (method: string, path: string) => fetch(`${h.adminUrl}/admin/api${path}`, { method, headers: { authorization: `Bearer ${adminToken}` } });

describe('429 with a reset hint', () => {
  it('skips the account for the next requests, says until when (retry-after), and an operator can clear it', async () => {
    const { generate } = await setup(['limited']);
    h.fake.setBehavior('limited', [fakeBehaviors.rateLimited({ resetsInSeconds: 120 })]);
    const first = await generate();
    expect(first.status).toBe(429);
    const before = Date.now();
    const second = await generate();
    // Still the upstream's rate limit (not a 503): every usable account sits out a 429.
    expect(second.status).toBe(429);
    const body = (await second.json()) as ErrorBody;
    expect(body.error.code).toBe('accounts_rate_limited');
    const until = /rate-limited upstream until (\S+) \(1 rate-limited upstream\)$/.exec(body.error.message)?.[1];
    expect(Date.parse(until!)).toBeGreaterThan(before + 115_000);
    expect(Date.parse(until!)).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(118);
    expect(Number(second.headers.get('retry-after'))).toBeLessThanOrEqual(120);
    expect(Number(second.headers.get('retry-after-ms'))).toBeGreaterThan(115_000);
    expect(Number(second.headers.get('retry-after-ms'))).toBeLessThanOrEqual(120_000);
    expect(h.fake.requests.map((r) => r.accountId)).toEqual(['limited']); // the second never reached the upstream

    const health = (await (await adminCall('GET', '/accounts/health')).json()) as { data: Array<Record<string, unknown>>; gateways: unknown[] };
    const entry = health.data.find((a) => a.name === 'limited')!;
    expect(entry).toMatchObject({
      needs_reimport: false,
      in_flight: 0,
      cooldowns: [{ gateway: 'local', cause: 'rate_limited', until: until, failures: 0, capped: false }],
    });
    expect(health.gateways).toEqual([{ gateway: 'local', instance_id: expect.stringMatching(/^inst_[0-9a-f]{16}$/), ok: true, error: null }]);

    const cleared = await adminCall('DELETE', '/accounts/limited/cooldown');
    expect(await cleared.json()).toMatchObject({ cleared: 1 });
    expect((await generate()).status).toBe(200);
    expect(await (await adminCall('DELETE', '/accounts/limited/cooldown')).json()).toMatchObject({ cleared: 0 });
    expect((await adminCall('DELETE', '/accounts/no-such-account/cooldown')).status).toBe(404);
  });

  it('with two accounts the limited one is passed over and the other serves at once', async () => {
    const { generate } = await setup(['a-limited', 'b-spare']);
    h.fake.setBehavior('a-limited', [fakeBehaviors.rateLimited({ resetsInSeconds: 600 })]);
    expect((await generate()).status).toBe(200);
    expect((await generate()).status).toBe(200);
    expect((await generate()).status).toBe(200);
    expect(h.fake.requests.map((r) => r.accountId)).toEqual(['a-limited', 'b-spare', 'b-spare', 'b-spare']);
  });
});

describe('5xx backoff', () => {
  it('pauses a failing account briefly, then it recovers', async () => {
    const { generate } = await setup(['wobbly']);
    h.fake.setBehavior('wobbly', [fakeBehaviors.serverError(502)]);
    expect((await generate()).status).toBe(502);
    const paused = await generate();
    expect(paused.status).toBe(503);
    expect(((await paused.json()) as ErrorBody).error.code).toBe('accounts_cooling_down');
    expect(paused.headers.get('retry-after')).toBe('1');
    await waitFor('the backoff to end', async () => (await generate()).status === 200, 5_000, 100);
    expect(h.fake.requests.filter((r) => r.status === 502)).toHaveLength(1);
  });
});

describe('401 from the upstream', () => {
  it('refreshes the account at once; requests route around it until the new token arrives, then it serves again', async () => {
    const { auths, generate } = await setup(['revoked']);
    expect((await generate()).status).toBe(200);
    h.fake.revokeAccessToken(auths.get('revoked')!.tokens.access_token);
    const rejected = await generate();
    expect(rejected.status).toBe(503);
    await waitFor('the 401-triggered refresh', () => h.fake.oauth.refreshCount('revoked') === 1);
    await waitFor('traffic to recover', async () => (await generate()).status === 200, 5_000, 50);
    expect(h.fake.requests.filter((r) => r.status === 401)).toHaveLength(1);
    const view = await h.admin.accounts.get('revoked');
    expect(view).toMatchObject({ needsReimport: false, lastError: null });
    expect(view.lastRefreshAt).toBeGreaterThan(Date.now() - 60_000);
    const log = await h.readAppLog();
    expect(log).toContain(`"accountId":"${view.id}"`);
    expect(log).toContain('account token refreshed');
    for (const leak of ['eyJ', 'rt_revoked_', auths.get('revoked')!.tokens.refresh_token]) expect(log).not.toContain(leak);
  });

  it('a refresh token refused for good takes the account out until a new import heals it', async () => {
    const { auths, generate } = await setup(['condemned']);
    h.fake.oauth.setFailure('condemned', { kind: 'permanent', code: 'refresh_token_invalidated' });
    h.fake.revokeAccessToken(auths.get('condemned')!.tokens.access_token);
    expect((await generate()).status).toBe(503);
    await waitFor('the account to be marked', async () => (await h.admin.accounts.get('condemned')).needsReimport);
    const res = await waitFor('the snapshot to drop it', async () => {
      const r = await generate();
      const body = (await r.json()) as ErrorBody;
      return body.error.code === 'accounts_need_reimport' ? body : null;
    });
    expect(res.error.message).toBe('every codex image account needs a new auth.json import (1 needs re-import (refresh token refused))');
    h.fake.oauth.setFailure('condemned', null);
    // A new login: different tokens (same-second JWTs would otherwise be byte-identical).
    await h.admin.accounts.import({ auth: makeCodexAuthJson({ accountId: 'condemned', extra: { jti: 'new-login' } }), name: 'condemned' });
    await waitFor('the re-imported account to serve', async () => (await generate()).status === 200, 5_000, 50);
    const log = await h.readAppLog();
    expect(log).toContain('"reason":"refresh_token_invalidated"');
    for (const leak of ['eyJ', 'rt_condemned_']) expect(log).not.toContain(leak);
  });
});

describe('data-plane status endpoint', () => {
  it('needs the admin token, and the control plane reads it as a remote gateway', async () => {
    expect((await fetch(`${h.gatewayUrl}/status`)).status).toBe(401);
    expect((await fetch(`${h.gatewayUrl}/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const { generate } = await setup(['remote-view']);
    h.fake.setBehavior('remote-view', [fakeBehaviors.rateLimited({ resetsInSeconds: 300 })]);
    await generate();
    const reader = createRemoteStatusReader({ targets: listConfiguredTargets([h.gatewayUrl, 'http://127.0.0.1:9']), adminToken });
    const [local, down] = await reader.read();
    expect(down).toMatchObject({ ok: false, error: expect.stringMatching(/^status endpoint unreachable/) });
    expect(local!.ok).toBe(true);
    const id = (await h.admin.accounts.get('remote-view')).id;
    const entry = local!.ok ? local!.status.accounts.find((a) => a.accountId === id) : undefined;
    expect(entry).toMatchObject({ inFlight: 0, cooldown: { cause: 'rate_limited', capped: false } });
    expect(await reader.clearCooldown(id)).toBe(1);
    expect(await reader.clearCooldown(id)).toBe(0);
    const text = await (await fetch(`${h.gatewayUrl}/status`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
    expect(text).not.toMatch(/eyJ|rt_|access_token/);
  });
});
