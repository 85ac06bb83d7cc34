import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AccountHealth, COOLDOWN_SKIP_CLASS, type AccountCooldown, type CooldownCause } from '../../../src/dispatch/account-health.js';
import { explainExhaustion, type SkipClass } from '../../../src/dispatch/exhaustion.js';
import type { Candidate } from '../../../src/dispatch/plan-candidates.js';
import { runFailover, type FailoverInput, type FailoverResult } from '../../../src/dispatch/run-failover.js';
import type { ErrorCode } from '../../../src/errors/codes.js';
import { AccountLimiter } from '../../../src/limits/account-limiter.js';
import { replies, ScriptedUpstream, type ScriptedReply, type UpstreamScript } from '../../support/scripted-upstream.js';
import { makeAccount } from '../../support/snapshot-fixtures.js';

const T0 = 1_800_000_000_000;
const POLICY = { rateLimitCapMs: 3_600_000, backoffBaseMs: 5_000, backoffMaxMs: 300_000 };
const BODY_TEXT = '{"prompt":"a lighthouse"}';

type AttemptRecord = FailoverResult['attempts'][number];

/**
 * One failover run over accounts `names` (in that order), wired to account health the way the data
 * plane wires it (dispatch-context.ts): every attempt is reported, every try is claimed first.
 */
function setup(names: string[], script: UpstreamScript = {}, accountOverrides: Parameters<typeof makeAccount>[1] = {}) {
  let nowMs = T0;
  const now = () => nowMs;
  const upstream = new ScriptedUpstream(script);
  const limiter = new AccountLimiter(now);
  const health = new AccountHealth(POLICY, now);
  const controller = new AbortController();
  const candidates: Candidate[] = names.map((name) => {
    const { credentials, ...account } = makeAccount(name, accountOverrides);
    return { account, credentials: credentials! };
  });
  const tokenOf = (accountId: string) => candidates.find((c) => c.account.id === accountId)!.credentials.accessToken;
  const input: FailoverInput = {
    endpoint: 'generations',
    body: { contentLength: BODY_TEXT.length, open: () => Readable.from([Buffer.from(BODY_TEXT)]) },
    candidates,
    signal: controller.signal,
    clientHeaders: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    codexClientVersion: '0.99.0',
    upstream,
    accountLimiter: limiter,
    now,
    onAttempt: (attempt) => health.report(attempt, tokenOf(attempt.accountId)),
    claimAttempt: (c) => {
      const cooldown = health.claimAttempt(c.account.id, c.credentials.accessToken);
      return cooldown ? COOLDOWN_SKIP_CLASS[cooldown.cause] : null;
    },
  };
  /** Account slots held now, by account name. */
  const held = () => Object.fromEntries(names.map((n) => [n, limiter.inFlight(`acct_${n}`)]));
  const idle = Object.fromEntries(names.map((n) => [n, 0]));
  const cooldownOf = (name: string): AccountCooldown | null => health.peekCooldown(`acct_${name}`, `tok-${name}`);
  const advance = (ms: number) => (nowMs += ms);
  return { upstream, limiter, health, controller, input, held, idle, cooldownOf, advance };
}

/** The final result's permit is the caller's to release: release it, as the HTTP layer does once the body is sent. */
function releaseFinal(result: FailoverResult): void {
  if (result.kind === 'final') result.permit.release();
}

/** The failure cooldown after `failures` consecutive failures, the last one at `atMs`. */
const backoff = (failures: number, atMs = T0): Partial<AccountCooldown> => ({
  cause: 'upstream_failure',
  failures,
  untilMs: atMs + POLICY.backoffBaseMs * 2 ** (failures - 1),
});

interface SkipCase {
  reply: ScriptedReply;
  skip: SkipClass;
  /** The attempt's upstream status (null: no answer arrived). */
  status: number | null;
  /** The cooldown the account is left with; null = none. */
  cooldown: Partial<AccountCooldown> | null;
  /** The error when this was the only account. */
  exhaustion: ErrorCode;
  /** The reset the upstream announced (seconds); absent = none. */
  retryAfterSeconds?: number;
}

const FAILED = backoff(1);
const POOL = 'account_pool_exhausted';
const capped = (retryAfterSeconds: number) => ({ cause: 'rate_limited' as const, untilMs: T0 + Math.min(retryAfterSeconds * 1000, POLICY.rateLimitCapMs) });

/** Every way an attempt is passed over after the upstream was called (upstream-failures.ts, run-failover.ts). */
const SKIP_CASES: Record<string, SkipCase> = {
  '401 token refused': {
    reply: replies.unauthorized(),
    skip: 'auth',
    status: 401,
    cooldown: { cause: 'auth', untilMs: T0 + POLICY.rateLimitCapMs },
    exhaustion: 'no_usable_accounts',
  },
  '403 forbidden': { reply: replies.forbidden(), skip: 'auth', status: 403, cooldown: FAILED, exhaustion: 'no_usable_accounts' },
  '429 with resets_in_seconds': {
    reply: replies.rateLimited(120),
    skip: 'rate_limited',
    status: 429,
    retryAfterSeconds: 120,
    cooldown: { ...capped(120), capped: false },
    exhaustion: 'accounts_rate_limited',
  },
  '429 with a reset past the cap (re-probed after the cap)': {
    reply: replies.rateLimited(5 * 3600),
    skip: 'rate_limited',
    status: 429,
    retryAfterSeconds: 5 * 3600,
    cooldown: { ...capped(5 * 3600), capped: true },
    exhaustion: 'accounts_rate_limited',
  },
  '429 without a reset hint': { reply: replies.rateLimited(null), skip: 'rate_limited', status: 429, cooldown: FAILED, exhaustion: 'accounts_rate_limited' },
  '500': { reply: replies.status(500), skip: 'upstream_server', status: 500, cooldown: FAILED, exhaustion: POOL },
  '502': { reply: replies.status(502), skip: 'upstream_server', status: 502, cooldown: FAILED, exhaustion: POOL },
  '503': { reply: replies.status(503), skip: 'upstream_server', status: 503, cooldown: FAILED, exhaustion: POOL },
  '504': { reply: replies.status(504), skip: 'upstream_server', status: 504, cooldown: FAILED, exhaustion: POOL },
  '599 (no body at all)': { reply: replies.status(599, ''), skip: 'upstream_server', status: 599, cooldown: FAILED, exhaustion: POOL },
  '502 whose error body breaks mid-read': { reply: replies.brokenBody(502), skip: 'upstream_server', status: 502, cooldown: FAILED, exhaustion: POOL },
  'whole-attempt timeout': { reply: replies.attemptTimeout(), skip: 'upstream_timeout', status: null, cooldown: FAILED, exhaustion: 'upstream_timeout' },
  'headers timeout (undici)': {
    reply: replies.undiciError('UND_ERR_HEADERS_TIMEOUT'),
    skip: 'upstream_timeout',
    status: null,
    cooldown: FAILED,
    exhaustion: 'upstream_timeout',
  },
  'connect timeout (undici)': {
    reply: replies.undiciError('UND_ERR_CONNECT_TIMEOUT'),
    skip: 'upstream_timeout',
    status: null,
    cooldown: FAILED,
    exhaustion: 'upstream_timeout',
  },
  'connection reset': { reply: replies.undiciError('ECONNRESET'), skip: 'upstream_request', status: null, cooldown: FAILED, exhaustion: POOL },
  'connection refused': { reply: replies.undiciError('ECONNREFUSED'), skip: 'upstream_request', status: null, cooldown: FAILED, exhaustion: POOL },
  'DNS failure': { reply: replies.undiciError('ENOTFOUND'), skip: 'upstream_request', status: null, cooldown: FAILED, exhaustion: POOL },
  'SOCKS proxy refused': { reply: replies.undiciError('SOCKS_PROXY_ERROR'), skip: 'upstream_request', status: null, cooldown: FAILED, exhaustion: POOL },
  'an error without a code (client bug)': { reply: replies.crash(), skip: 'upstream_request', status: null, cooldown: FAILED, exhaustion: POOL },
  'a thrown non-Error': { reply: { kind: 'throw', error: 'boom' }, skip: 'upstream_request', status: null, cooldown: FAILED, exhaustion: POOL },
  // The account's own configuration or the response is at fault, not its health: no cooldown.
  'invalid proxy URL': { reply: replies.badProxy(), skip: 'proxy_client', status: null, cooldown: null, exhaustion: POOL },
  'response too large': { reply: replies.tooLarge(), skip: 'response_too_large', status: null, cooldown: null, exhaustion: POOL },
};

describe('runFailover: every skip class fails over to the next account', () => {
  it.each(Object.entries(SKIP_CASES))('%s', async (_name, c) => {
    const { upstream, input, held, idle, cooldownOf } = setup(['a', 'b'], { a: c.reply });
    const result = await runFailover(input);

    expect(upstream.calls).toEqual(['a', 'b']);
    expect(result).toMatchObject({ kind: 'final', candidate: { account: { name: 'b' } }, response: { status: 200 }, skips: [c.skip] });
    expect(result.attempts).toEqual<AttemptRecord[]>([
      {
        accountId: 'acct_a',
        accountName: 'a',
        status: c.status,
        ttfbMs: c.status === null ? null : 7,
        errorClass: c.skip,
        retryAfterSeconds: c.retryAfterSeconds ?? null,
        endedAt: T0,
      },
      { accountId: 'acct_b', accountName: 'b', status: 200, ttfbMs: 7, errorClass: null, retryAfterSeconds: null, endedAt: T0 },
    ]);
    // a's slot went back as soon as it failed; b's is held for the caller until the body is sent.
    expect(held()).toEqual({ a: 0, b: 1 });
    releaseFinal(result);
    expect(held()).toEqual(idle);

    if (c.cooldown === null) expect(cooldownOf('a')).toBeNull();
    else expect(cooldownOf('a')).toMatchObject(c.cooldown);
    expect(cooldownOf('b')).toBeNull();
  });

  it.each(Object.entries(SKIP_CASES))('%s on the only account: exhausted, its error, its slot released', async (_name, c) => {
    const { upstream, input, held, idle } = setup(['a'], { a: c.reply });
    const result = await runFailover(input);

    expect(upstream.calls).toEqual(['a']);
    expect(result).toMatchObject({ kind: 'exhausted', skips: [c.skip] });
    expect(held()).toEqual(idle);
    const why = explainExhaustion(result as Extract<FailoverResult, { kind: 'exhausted' }>, T0);
    expect(why.code).toBe(c.exhaustion);
    expect(why.retryAfterMs).toBe(c.retryAfterSeconds === undefined ? null : c.retryAfterSeconds * 1000);
  });

  it('a failed-over answer has its error body read to the end (its connection can be reused); a final body is left unread for the caller', async () => {
    const { upstream, input } = setup(['a', 'b'], { a: replies.status(503) });
    const result = await runFailover(input);
    const [failed, final] = upstream.bodies;
    expect(failed!.readableEnded || failed!.destroyed).toBe(true);
    expect(final!.readableEnded).toBe(false);
    releaseFinal(result);
  });

  it('a token that changes ends the 401 cooldown at once (a refresh reached the snapshot)', async () => {
    const { input, health } = setup(['a', 'b'], { a: replies.unauthorized() });
    releaseFinal(await runFailover(input));
    expect(health.peekCooldown('acct_a', 'tok-a')).toMatchObject({ cause: 'auth' });
    expect(health.peekCooldown('acct_a', 'tok-a-refreshed')).toBeNull();
  });
});

describe('runFailover: a final answer ends the loop, whatever its status', () => {
  it.each<[string, ScriptedReply, number, AttemptRecord['errorClass']]>([
    ['200', replies.ok(), 200, null],
    ['400 content-policy block', replies.moderationBlocked(), 400, 'client_error'],
    ['400 invalid field', replies.status(400, { detail: [{ msg: 'size: invalid' }] }), 400, 'client_error'],
    ['404', replies.status(404, { detail: 'Not Found' }), 404, 'client_error'],
    ['413', replies.status(413), 413, 'client_error'],
    ['422', replies.status(422), 422, 'client_error'],
    ['302 (not an Images API answer, but not the account’s fault)', replies.status(302, ''), 302, 'upstream_status'],
  ])('%s: no failover, the permit goes to the caller', async (_name, reply, status, errorClass) => {
    const { upstream, input, held, idle, cooldownOf } = setup(['a', 'b'], { a: reply });
    const result = await runFailover(input);

    expect(upstream.calls).toEqual(['a']);
    expect(result).toMatchObject({ kind: 'final', response: { status }, candidate: { account: { name: 'a' } }, skips: [] });
    expect(result.attempts).toEqual([{ accountId: 'acct_a', accountName: 'a', status, ttfbMs: 7, errorClass, retryAfterSeconds: null, endedAt: T0 }]);
    expect(held()).toEqual({ a: 1, b: 0 });
    releaseFinal(result);
    releaseFinal(result); // a permit released twice frees one slot once
    expect(held()).toEqual(idle);
    expect(cooldownOf('a')).toBeNull();
  });

  it('consecutive failures across requests grow the backoff; the answer of the re-probe ends it and starts the count over', async () => {
    const { input, health, cooldownOf, advance } = setup(['a'], { a: [replies.status(500), replies.status(503), replies.ok(), replies.status(500)] });
    await runFailover(input);
    expect(cooldownOf('a')).toMatchObject(backoff(1));
    advance(POLICY.backoffBaseMs);
    await runFailover(input);
    expect(cooldownOf('a')).toMatchObject(backoff(2, T0 + POLICY.backoffBaseMs));
    advance(2 * POLICY.backoffBaseMs);
    releaseFinal(await runFailover(input));
    expect(health.list()).toEqual([]);
    await runFailover(input);
    expect(cooldownOf('a')).toMatchObject(backoff(1, T0 + 3 * POLICY.backoffBaseMs));
  });
});

describe('runFailover: accounts passed over without a call', () => {
  it('an account at its concurrency cap is skipped as concurrency_blocked; the slot it did not get stays with its holder', async () => {
    const { upstream, limiter, input, held } = setup(['a', 'b'], {}, { imageConcurrency: 1 });
    const other = limiter.tryAcquire('acct_a', 1)!; // another request holds a's only slot
    const result = await runFailover(input);

    expect(upstream.calls).toEqual(['b']);
    expect(result).toMatchObject({ kind: 'final', candidate: { account: { name: 'b' } }, skips: ['concurrency_blocked'] });
    expect(result.attempts.map((a) => a.accountName)).toEqual(['b']); // a busy skip is not an attempt
    releaseFinal(result);
    expect(held()).toEqual({ a: 1, b: 0 });
    other.release();
  });

  it('every account at its cap: exhausted as accounts_busy, nothing called, nothing taken', async () => {
    const { upstream, limiter, input, held } = setup(['a', 'b'], {}, { imageConcurrency: 1 });
    const others = [limiter.tryAcquire('acct_a', 1)!, limiter.tryAcquire('acct_b', 1)!];
    const result = await runFailover(input);
    expect(upstream.calls).toEqual([]);
    expect(result).toMatchObject({ kind: 'exhausted', skips: ['concurrency_blocked', 'concurrency_blocked'], attempts: [] });
    expect(explainExhaustion(result as Extract<FailoverResult, { kind: 'exhausted' }>, T0).code).toBe('accounts_busy');
    expect(held()).toEqual({ a: 1, b: 1 });
    for (const p of others) p.release();
  });

  it.each<[CooldownCause, ScriptedReply]>([
    ['rate_limited', replies.rateLimited(60)],
    ['auth', replies.unauthorized()],
    ['upstream_failure', replies.status(500)],
  ])('a %s cooldown that began after planning refuses the attempt: its slot is given back, the upstream is not called', async (cause, reply) => {
    const { upstream, input, held, idle } = setup(['a', 'b'], { a: reply });
    // The first request puts a into its cooldown; the second planned [a, b] before that.
    releaseFinal(await runFailover(input));
    upstream.calls.length = 0;
    const result = await runFailover(input);

    expect(upstream.calls).toEqual(['b']);
    expect(result).toMatchObject({ kind: 'final', skips: [COOLDOWN_SKIP_CLASS[cause]] });
    expect(result.attempts.map((a) => a.accountName)).toEqual(['b']);
    releaseFinal(result);
    expect(held()).toEqual(idle);
  });
});

describe('runFailover: order and attempt cap', () => {
  it('tries the candidates in the order given, each exactly once, then gives up', async () => {
    const { upstream, input, held, idle } = setup(['c', 'a', 'b'], { a: replies.status(500), b: replies.status(502), c: replies.attemptTimeout() });
    const result = await runFailover(input);

    expect(upstream.calls).toEqual(['c', 'a', 'b']);
    expect(result).toMatchObject({ kind: 'exhausted', skips: ['upstream_timeout', 'upstream_server', 'upstream_server'] });
    expect(result.attempts.map((a) => [a.accountName, a.status])).toEqual([
      ['c', null],
      ['a', 500],
      ['b', 502],
    ]);
    expect(held()).toEqual(idle);
    // Judged by the last real failure: a 502 after a timeout is a pool exhaustion, not a timeout.
    expect(explainExhaustion(result as Extract<FailoverResult, { kind: 'exhausted' }>, T0).code).toBe('account_pool_exhausted');
  });

  it('never holds more than one account slot at a time', async () => {
    const { upstream, input, limiter } = setup(['a', 'b', 'c'], { a: replies.status(500), b: replies.undiciError('ECONNRESET') });
    const slots: number[] = [];
    const send = upstream.send.bind(upstream);
    upstream.send = (req, signal) => {
      slots.push(['acct_a', 'acct_b', 'acct_c'].reduce((sum, id) => sum + limiter.inFlight(id), 0));
      return send(req, signal);
    };
    releaseFinal(await runFailover(input));
    expect(slots).toEqual([1, 1, 1]);
  });

  it('sends each account its own credentials, the body, the client headers and the Codex version, with the caller’s signal', async () => {
    const { upstream, input } = setup(['a', 'b'], { a: replies.status(500) }, { proxyUrl: 'http://proxy.internal:3128' });
    releaseFinal(await runFailover(input));
    expect(upstream.requests.map((r) => [r.accessToken, r.chatgptAccountId, r.proxyUrl])).toEqual([
      ['tok-a', 'acct-a', 'http://proxy.internal:3128'],
      ['tok-b', 'acct-b', 'http://proxy.internal:3128'],
    ]);
    for (const r of upstream.requests) {
      expect(r).toMatchObject({ endpoint: 'generations', codexClientVersion: '0.99.0', fedramp: false, clientHeaders: input.clientHeaders });
      expect(r.body).toBe(input.body);
    }
  });
});

describe('runFailover: the client going away', () => {
  it('aborted before the loop: nothing is tried, nothing is taken', async () => {
    const { upstream, controller, input, held, idle } = setup(['a', 'b']);
    controller.abort();
    const result = await runFailover(input);
    expect(result).toEqual({ kind: 'aborted', attempts: [], skips: [] });
    expect(upstream.calls).toEqual([]);
    expect(held()).toEqual(idle);
  });

  it('aborted during the call: the call is cancelled through the signal, the slot released, no other account tried, health untouched', async () => {
    const { upstream, controller, input, held, idle, health } = setup(['a', 'b'], { a: replies.hang() });
    const started = upstream.nextCall();
    const running = runFailover(input);
    await started;
    expect(held()).toEqual({ a: 1, b: 0 });
    controller.abort();
    const result = await running;

    expect(result).toMatchObject({ kind: 'aborted', skips: [] });
    expect(result.attempts).toEqual([
      { accountId: 'acct_a', accountName: 'a', status: null, ttfbMs: null, errorClass: 'client_aborted', retryAfterSeconds: null, endedAt: T0 },
    ]);
    expect(upstream.calls).toEqual(['a']);
    expect(held()).toEqual(idle);
    expect(health.list()).toEqual([]); // a client that left says nothing about the account
  });

  it('aborted while an upstream failure comes back: the failure is recorded, but no other account is tried', async () => {
    let answer!: () => void;
    const { upstream, controller, input, held, idle } = setup(['a', 'b'], { a: replies.held(new Promise<void>((r) => (answer = r)), replies.status(500)) });
    const started = upstream.nextCall();
    const running = runFailover(input);
    await started;
    controller.abort();
    answer(); // this upstream ignores the signal and answers anyway
    const result = await running;

    expect(result).toMatchObject({ kind: 'aborted', skips: ['upstream_server'] });
    expect(upstream.calls).toEqual(['a']);
    expect(held()).toEqual(idle);
  });

  it('aborted between attempts: the loop stops before taking the next account’s slot', async () => {
    const { upstream, controller, input, held, idle } = setup(['a', 'b', 'c'], { a: replies.status(502) });
    const report = input.onAttempt!;
    const result = await runFailover({
      ...input,
      onAttempt: (attempt) => {
        report(attempt);
        controller.abort(); // the client leaves as a's failure comes in
      },
    });
    expect(result).toMatchObject({ kind: 'aborted', skips: ['upstream_server'] });
    expect(upstream.calls).toEqual(['a']);
    expect(held()).toEqual(idle);
  });

  it('aborted as the last account fails: aborted, not exhausted (the client is not told anything)', async () => {
    const { controller, input } = setup(['a'], { a: replies.status(502) });
    const result = await runFailover({ ...input, onAttempt: () => controller.abort() });
    expect(result.kind).toBe('aborted');
  });
});

describe('runFailover: hooks that throw never cost an account its slot', () => {
  it('an attempt observer that throws: the request goes on, every slot is released', async () => {
    const { upstream, input, held, idle } = setup(['a', 'b'], { a: replies.status(500) });
    const result = await runFailover({
      ...input,
      onAttempt: () => {
        throw new Error('metrics broke');
      },
    });
    expect(upstream.calls).toEqual(['a', 'b']);
    expect(result.kind).toBe('final');
    releaseFinal(result);
    expect(held()).toEqual(idle);
  });

  it('a client whose send throws synchronously is treated as a failed request', async () => {
    const { input, held, idle } = setup(['a']);
    const result = await runFailover({
      ...input,
      upstream: {
        send: () => {
          throw new TypeError('not a function');
        },
        close: async () => undefined,
      },
    });
    expect(result).toMatchObject({ kind: 'exhausted', skips: ['upstream_request'] });
    expect(held()).toEqual(idle);
  });

  it.each<[string, Partial<FailoverInput>]>([
    [
      'claimAttempt',
      {
        claimAttempt: () => {
          throw new Error('health broke');
        },
      },
    ],
    [
      'onPermit',
      {
        onPermit: () => {
          throw new Error('could not start the stream');
        },
      },
    ],
  ])('%s throwing: the error reaches the caller and the slot taken for it is given back', async (_name, hooks) => {
    const { upstream, input, held, idle } = setup(['a', 'b']);
    await expect(runFailover({ ...input, ...hooks })).rejects.toThrow();
    expect(upstream.calls).toEqual([]);
    expect(held()).toEqual(idle);
  });
});
