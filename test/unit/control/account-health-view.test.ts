import { describe, expect, it } from 'vitest';
import { buildAccountHealthViews, buildGatewayReachability } from '../../../src/control/account-health-view.js';
import type { AccountView } from '../../../src/control/control-api.js';
import { combineStatusReaders, createLocalStatusReader, type GatewayStatusReport } from '../../../src/control/gateway-status.js';
import { buildStatusWire, parseStatusWire, type DataPlaneStatus } from '../../../src/control/data-plane-status.js';

const T = Date.parse('2026-11-26T12:00:00.000Z');
const view = (id: string, over: Partial<AccountView> = {}): AccountView => ({
  id,
  name: id.replace('acct_', ''),
  status: 'active',
  imageEnabled: true,
  imageConcurrency: 3,
  proxy: null,
  planType: 'plus',
  email: null,
  chatgptAccountId: null,
  accessTokenExpiresAt: T + 3_600_000,
  hasRefreshToken: true,
  lastRefreshAt: T - 60_000,
  lastError: null,
  needsReimport: false,
  createdAt: 0,
  updatedAt: 0,
  ...over,
});
const status = (accounts: DataPlaneStatus['accounts']): DataPlaneStatus => ({ generatedAt: T, accounts });
const cooling = (accountId: string, untilMs: number) => ({ accountId, cause: 'rate_limited' as const, untilMs, failures: 0, capped: true });

describe('buildAccountHealthViews', () => {
  it('adds in-flight over the gateways that answered and lists each cooldown with its gateway', () => {
    const reports: GatewayStatusReport[] = [
      {
        gateway: 'local',
        ok: true,
        status: status([
          { accountId: 'acct_a', inFlight: 2, cooldown: null },
          { accountId: 'acct_b', inFlight: 0, cooldown: cooling('acct_b', T + 5_000) },
        ]),
      },
      { gateway: 'http://10.0.0.2:19082', ok: true, status: status([{ accountId: 'acct_a', inFlight: 1, cooldown: cooling('acct_a', T + 9_000) }]) },
      { gateway: 'http://10.0.0.3:19082', ok: false, error: 'status endpoint answered 401' },
    ];
    const views = buildAccountHealthViews(
      [
        view('acct_a'),
        view('acct_b', { needsReimport: true, lastError: "token refresh refused for good (refresh_token_reused); import this account's auth.json again" }),
        view('acct_c'),
      ],
      reports,
    );
    expect(views.map((v) => [v.name, v.inFlight, v.cooldowns.map((c) => `${c.gateway}:${c.until}`), v.needsReimport])).toEqual([
      ['a', 3, ['http://10.0.0.2:19082:2026-11-26T12:00:09.000Z'], false],
      ['b', 0, ['local:2026-11-26T12:00:05.000Z'], true],
      ['c', 0, [], false],
    ]);
    expect(views[1]!.lastError).toContain('refresh_token_reused');
    expect(buildGatewayReachability(reports)).toEqual([
      { gateway: 'local', instanceId: null, ok: true, error: null },
      { gateway: 'http://10.0.0.2:19082', instanceId: null, ok: true, error: null },
      { gateway: 'http://10.0.0.3:19082', instanceId: null, ok: false, error: 'status endpoint answered 401' },
    ]);
  });
});

describe('status wire', () => {
  it('round-trips through snake_case JSON', () => {
    const original = status([
      { accountId: 'acct_a', inFlight: 1, cooldown: cooling('acct_a', T + 1) },
      { accountId: 'acct_b', inFlight: 0, cooldown: null },
    ]);
    const wire = JSON.parse(JSON.stringify(buildStatusWire(original)));
    expect(wire.accounts[0]).toEqual({ account_id: 'acct_a', in_flight: 1, cooldown: { cause: 'rate_limited', until_ms: T + 1, failures: 0, capped: true } });
    expect(parseStatusWire(wire)).toEqual(original);
  });
});

describe('status readers', () => {
  it('the local reader reports this process as `local`; combined readers add up clears', async () => {
    const cleared: string[] = [];
    const source = {
      read: async () => status([]),
      clearCooldown: async (id: string) => {
        cleared.push(id);
        return id === 'acct_a';
      },
    };
    const both = combineStatusReaders([createLocalStatusReader(source), createLocalStatusReader(source)]);
    expect(await both.read()).toEqual([
      { gateway: 'local', ok: true, status: status([]) },
      { gateway: 'local', ok: true, status: status([]) },
    ]);
    expect(await both.clearCooldown('acct_a')).toBe(2);
    expect(await both.clearCooldown('acct_b')).toBe(0);
    expect(cleared).toEqual(['acct_a', 'acct_a', 'acct_b', 'acct_b']);
  });
});
