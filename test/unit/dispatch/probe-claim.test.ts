import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../../src/control/api-key.js';
import { AccountHealth, COOLDOWN_SKIP_CLASS, RATE_LIMIT_PROBE_HOLD_MS } from '../../../src/dispatch/account-health.js';
import { planCandidates } from '../../../src/dispatch/plan-candidates.js';
import { runFailover, type FailoverInput } from '../../../src/dispatch/run-failover.js';
import type { UpstreamBody } from '../../../src/images/image-request.js';
import { AccountLimiter } from '../../../src/limits/account-limiter.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../../../src/upstream/types.js';
import { makePng } from '../../support/images.js';
import { makeAccount, makeKey, makeSnapshot } from '../../support/snapshot-fixtures.js';
import { buildTestGatewayApp } from '../../support/test-gateway-app.js';

const POLICY = { rateLimitCapMs: 3_600_000, backoffBaseMs: 5_000, backoffMaxMs: 300_000 };
const T0 = 1_800_000_000_000;
const SECRET = 'cig_probe-claim-secret';
const OK_BODY = JSON.stringify({
  created: 1,
  data: [{ b64_json: makePng(4, 4).toString('base64') }],
  usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
});

const answer = (status: number): UpstreamResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: Readable.from([Buffer.from(status === 200 ? OK_BODY : JSON.stringify({ error: { message: 'upstream trouble' } }))]),
  ttfbMs: 1,
});

/**
 * Account health on a hand-moved clock where account "b" sat out a capped 429 (a 5 h reset hint,
 * capped at 1 h) that has just ended: its one re-probe is due.
 */
function healthWithProbeDue() {
  let now = T0;
  const health = new AccountHealth(POLICY, () => now);
  health.report({ accountId: 'acct_b', status: 429, errorClass: 'rate_limited', retryAfterSeconds: 5 * 3600 }, 'tok-b');
  now += POLICY.rateLimitCapMs;
  return { health, advance: (ms: number) => (now += ms) };
}

/** An upstream that answers each account's token with the status the test sets, recording who was called. */
function scriptedUpstream(statusOf: (token: string) => number = () => 200) {
  const calls: string[] = [];
  const upstream: UpstreamClient = {
    send: async (req: UpstreamRequest) => {
      calls.push(req.accessToken);
      return answer(statusOf(req.accessToken));
    },
    close: async () => undefined,
  };
  return { upstream, calls };
}

describe('the planner takes nothing from account health; the attempt loop claims what it tries', () => {
  const snapshot = makeSnapshot([], [makeAccount('a'), makeAccount('b')]);

  function failoverInput(health: AccountHealth, upstream: UpstreamClient, limiter = new AccountLimiter()): FailoverInput {
    const plan = planCandidates(makeKey(), snapshot, {
      now: T0,
      allowFreePlans: false,
      inFlight: (id) => limiter.inFlight(id),
      lastStartMs: (id) => limiter.lastStartMs(id),
      cooldownOf: (id, token) => health.peekCooldown(id, token),
    });
    return {
      endpoint: 'generations',
      body: {} as UpstreamBody,
      candidates: plan.candidates,
      signal: new AbortController().signal,
      clientHeaders: {},
      codexClientVersion: '0.0.0',
      upstream,
      accountLimiter: limiter,
      now: () => T0,
      claimAttempt: (c) => {
        const cooldown = health.claimAttempt(c.account.id, c.credentials.accessToken);
        return cooldown ? COOLDOWN_SKIP_CLASS[cooldown.cause] : null;
      },
    };
  }

  it('a plan that lists the probe-due account but is served by an earlier one leaves the probe for the next request', async () => {
    const { health } = healthWithProbeDue();
    const { upstream, calls } = scriptedUpstream();
    const input = failoverInput(health, upstream);
    expect(input.candidates.map((c) => c.account.name)).toEqual(['a', 'b']); // b is planned ...
    const result = await runFailover(input);
    expect(result.kind).toBe('final');
    expect(calls).toEqual(['tok-a']); // ... but never tried
    expect(health.peekCooldown('acct_b', 'tok-b')).toBeNull();
    expect(health.claimAttempt('acct_b', 'tok-b')).toBeNull(); // the next request still gets the probe
    expect(health.claimAttempt('acct_b', 'tok-b')).toMatchObject({ cause: 'rate_limited' }); // and only one does
  });

  it('exactly one of two requests that planned the account re-probes it; the other passes it over without a call', async () => {
    const { health } = healthWithProbeDue();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const calls: string[] = [];
    const upstream: UpstreamClient = {
      send: async (req) => {
        calls.push(req.accessToken);
        if (req.accessToken === 'tok-b') await held;
        return answer(req.accessToken === 'tok-b' ? 200 : 500);
      },
      close: async () => undefined,
    };
    // Both plan [a, b] before either tries anything; a answers 500 so both fail over to b.
    const first = failoverInput(health, upstream);
    const second = failoverInput(health, upstream);
    const probing = runFailover(first);
    const passed = await runFailover(second);
    expect(passed).toMatchObject({ kind: 'exhausted', skips: ['upstream_server', 'rate_limited'] });
    release();
    expect((await probing).kind).toBe('final');
    expect(calls.filter((t) => t === 'tok-b')).toHaveLength(1);
  });

  it('a probe taken and never answered holds the account off only for the hold time', () => {
    const { health, advance } = healthWithProbeDue();
    expect(health.claimAttempt('acct_b', 'tok-b')).toBeNull();
    advance(RATE_LIMIT_PROBE_HOLD_MS - 1);
    expect(health.peekCooldown('acct_b', 'tok-b')).not.toBeNull();
    advance(1);
    expect(health.claimAttempt('acct_b', 'tok-b')).toBeNull();
  });
});

describe('through the gateway: a request served by an earlier account leaves the re-probe', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => app?.close());

  it('the next request re-probes the account at once (it is not held off for the probe hold)', async () => {
    const { health } = healthWithProbeDue();
    const { upstream, calls } = scriptedUpstream();
    const snapshot = makeSnapshot([makeKey({ hash: hashApiKey(SECRET) })], [makeAccount('a'), makeAccount('b')]);
    app = await buildTestGatewayApp(() => snapshot, { overrides: { upstream, health } });
    const generate = () =>
      app!.inject({
        method: 'POST',
        url: '/v1/images/generations',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
        payload: JSON.stringify({ prompt: 'a lighthouse' }),
      });

    expect((await generate()).statusCode).toBe(200);
    expect(calls).toEqual(['tok-a']); // served by a; b was planned after it and never tried
    expect(health.peekCooldown('acct_b', 'tok-b')).toBeNull();
    // b, never started, now comes first: it is tried (the probe) and its answer frees it for everyone.
    expect((await generate()).statusCode).toBe(200);
    expect(calls).toEqual(['tok-a', 'tok-b']);
    expect(health.list()).toEqual([]);
  });
});
