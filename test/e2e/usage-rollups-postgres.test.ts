import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { toSnakeName } from '../../src/control/admin-wire.js';
import { createAdminClient } from '../../src/control/admin-client.js';
import type { ControlApi } from '../../src/control/control-api.js';
import { fakeBehaviors, type Behavior } from '../support/fake-codex-upstream.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { runCli, spawnCli, type CliDaemon } from '../support/cli-process.js';
import { setUpPostgresDeployment } from '../support/postgres-deployment.js';
import { KEY_COUNTER_MEASURES, pickTally, TALLIED_MEASURES, tallyExpectedUsage, type ClientObservation, type ExpectedUsage } from '../support/usage-tally.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Usage accuracy across processes: two `serve` processes and a `control` on one Postgres, two
 * accounts, three keys. One client gives up mid-request; then 200 requests run across both serves
 * (160 at once, 40 more while those are in flight), with upstream failures of several classes, an
 * account rate-limited for a second, and a key's own limit turning requests away; one serve gets
 * SIGTERM while its requests are in flight. The usage rollups and the per-key counters must then
 * hold exactly what the clients counted (test/support/usage-tally.ts), per key and per account.
 * Another report of the same history checks against the same `expected` tally.
 */
const deployment = await setUpPostgresDeployment('usage-rollups-postgres');
const ADMIN_TOKEN = 'usage-rollups-admin-token';
/** Every success waits this long upstream, so requests are still in flight when the serve is stopped. */
const GENERATION_MS = 1_500;
const EVERYTHING = { sinceMs: 0, untilMs: Date.now() + 86_400_000 };

/** The scenario's accounts (fake upstream ids) and keys: each key routes to one account, so the client knows which account answered it. */
const ACCOUNTS = ['acc-one', 'acc-two'] as const;
const KEYS = [
  { name: 'k-one', account: 'acc-one', maxConcurrency: undefined },
  { name: 'k-two', account: 'acc-two', maxConcurrency: undefined },
  // One request at a time per process: the others sent at once are refused by the key's own limit.
  { name: 'k-limited', account: 'acc-two', maxConcurrency: 1 },
] as const;

/** Upstream answers queued ahead of each account's delayed successes: classes client, upstream and rate_limited, and successes without usage. */
const QUEUED_FAILURES: Record<(typeof ACCOUNTS)[number], Behavior[]> = {
  'acc-one': [
    ...Array.from({ length: 4 }, () => fakeBehaviors.detailError(400, 'bad prompt')),
    ...Array.from({ length: 4 }, () => fakeBehaviors.serverError(500)),
    ...Array.from({ length: 3 }, () => fakeBehaviors.success({ usage: null })),
  ],
  'acc-two': [
    ...Array.from({ length: 3 }, () => fakeBehaviors.badRequest()),
    ...Array.from({ length: 3 }, () => fakeBehaviors.serverError(502)),
    // A usage limit that resets in a second: the account sits out that second, and requests planned meanwhile are refused without an attempt.
    ...Array.from({ length: 3 }, () => fakeBehaviors.rateLimited({ resetsInSeconds: 1 })),
  ],
};
const SUCCESS_USAGE = { 'acc-one': { input_tokens: 11, output_tokens: 300 }, 'acc-two': { input_tokens: 7, output_tokens: 500 } } as const;

interface Serve {
  daemon: CliDaemon;
  url: string;
}

/** One planned request: where it goes, with which key, how many images it asks for. */
interface PlannedRequest {
  serve: Serve;
  key: { id: string; secret: string };
  prompt: string;
  n: number;
}

/** A request and what its client saw, with when the answer was complete. */
interface SentRequest extends ClientObservation {
  settledAtMs: number;
}

/** Sends one image generation and reads its answer whole; a network failure throws (the scenario never expects one). */
async function sendImageRequest(plan: PlannedRequest, signal?: AbortSignal): Promise<SentRequest> {
  const res = await fetch(`${plan.serve.url}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${plan.key.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: plan.prompt, n: plan.n }),
    signal,
  });
  const body = (await res.json()) as {
    data?: unknown[];
    usage?: { input_tokens: number; output_tokens: number; total_tokens: number };
    error?: { code: string | null };
  };
  return {
    keyId: plan.key.id,
    status: res.status,
    errorCode: body.error?.code ?? null,
    images: res.status === 200 ? (body.data?.length ?? 0) : 0,
    usage: body.usage ? { inputTokens: body.usage.input_tokens, outputTokens: body.usage.output_tokens, totalTokens: body.usage.total_tokens } : null,
    settledAtMs: Date.now(),
  };
}

type Key = { id: string; secret: string };

/** The 80 or 40 requests of one wave on one serve: the keys in turn, k-one asking for 2 images now and then; prompts tagged to find them upstream. */
function planWave(serve: Serve, keys: ReadonlyMap<string, Key>, tag: string, count: number): PlannedRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const name = KEYS[i % KEYS.length]!.name;
    return { serve, key: keys.get(name)!, prompt: `${tag} ${i}`, n: name === 'k-one' && i % 5 === 0 ? 2 : 1 };
  });
}

describe.skipIf(!deployment)('usage rollups on two serve processes sharing Postgres', () => {
  // Read lazily: the describe body also runs (to collect skipped tests) when there is no deployment.
  const d = () => deployment!;
  // No account pauses after a 5xx: the rest of the traffic keeps reaching the accounts.
  const env = () => d().env({ ADMIN_TOKEN, USAGE_FLUSH_MS: '100', FAILURE_BACKOFF_BASE_MS: '0' });
  const spawnServe = async (name: string): Promise<Serve> => {
    const daemon = spawnCli(['serve', '--listen', '127.0.0.1:0', '--log-dir', `${d().dir}/logs-${name}`], env());
    d().daemons.push(daemon);
    return { daemon, url: (await daemon.waitFor(/"gatewayUrl":"(http:\/\/[^"]+)"/))[1]! };
  };

  let admin: ControlApi;
  let adminUrl: string;
  const accountOfKey = new Map<string, string>();
  const keys = new Map<string, Key>();
  const sent: SentRequest[] = [];
  let expected: ExpectedUsage;

  /** The usage report of the whole scenario grouped one way, its rows by group; the one place that knows the report's shape. */
  const readRollups = async (by: 'key' | 'account') => {
    const report = await admin.usage.report({ ...EVERYTHING, by: [by] });
    return new Map(report.rows.map((row) => [(by === 'key' ? row.key : row.account) ?? null, row]));
  };

  /** The accounts and keys, through the control's admin API. */
  async function createAccountsAndKeys(): Promise<void> {
    const accountIds = new Map<string, string>();
    for (const name of ACCOUNTS) {
      const account = await admin.accounts.import({ auth: makeCodexAuthJson({ accountId: name }), name, imageConcurrency: 500 });
      accountIds.set(name, account.id);
    }
    for (const k of KEYS) {
      const created = await admin.keys.create({ name: k.name, maxConcurrency: k.maxConcurrency, routing: { mode: 'accounts', accounts: [k.account] } });
      keys.set(k.name, { id: created.key.id, secret: created.secret });
      accountOfKey.set(created.key.id, accountIds.get(k.account)!);
    }
  }

  /** A client that gives up once its request is upstream: the gateway counts it aborted (no account answered it). */
  async function abandonOneRequest(serve: Serve): Promise<void> {
    d().fake.setBehavior('acc-one', fakeBehaviors.hang());
    const key = keys.get('k-one')!;
    const abandon = new AbortController();
    const abandoned = sendImageRequest({ serve, key, prompt: 'abandoned', n: 1 }, abandon.signal).catch((err: unknown) => err);
    await waitFor('the abandoned request to reach the upstream', () => d().fake.requests.some((r) => r.body?.fields.prompt === 'abandoned'));
    abandon.abort();
    expect(await abandoned).toMatchObject({ name: 'AbortError' });
    sent.push({ keyId: key.id, status: 'aborted', errorCode: null, images: 0, usage: null, settledAtMs: Date.now() });
    await waitFor('the gateway to drop the abandoned upstream request', () => d().fake.concurrency.current('acc-one') === 0);
  }

  /**
   * 80 requests on each serve at once; once every request of `b` is upstream or answered, SIGTERM to
   * `b` and 40 more requests on `a`. Checks the premise: `b` exited cleanly, and clients of `b` got
   * answers after it was told to stop (requests it had in flight then, since it got no new ones).
   */
  async function runTrafficStoppingB(a: Serve, b: Serve): Promise<void> {
    for (const account of ACCOUNTS) {
      d().fake.setBehavior(account, fakeBehaviors.success({ delayMs: GENERATION_MS, usage: SUCCESS_USAGE[account] }));
      d().fake.setBehavior(account, QUEUED_FAILURES[account]);
    }
    const onB = planWave(b, keys, 'serve-b', 80);
    const firstWave = [...planWave(a, keys, 'serve-a', 80), ...onB].map((p) => sendImageRequest(p));
    const answeredOnB = new Set<string>();
    firstWave.slice(80).forEach(
      (p, i) =>
        void p.then(
          () => answeredOnB.add(onB[i]!.prompt),
          () => undefined,
        ),
    );
    const upstreamPrompts = () => new Set(d().fake.requests.map((r) => r.body?.fields.prompt));
    await waitFor(
      'every request of b to be upstream or answered',
      () => onB.every((p) => answeredOnB.has(p.prompt) || upstreamPrompts().has(p.prompt)),
      15_000,
    );
    const sigtermAtMs = Date.now();
    const stopped = b.daemon.stop();
    const secondWave = planWave(a, keys, 'serve-a-late', 40).map((p) => sendImageRequest(p));
    const answers = await Promise.all([...firstWave, ...secondWave]);
    expect(await stopped).toBe(0);
    expect(answers.slice(80, 160).filter((r) => r.settledAtMs >= sigtermAtMs).length).toBeGreaterThan(0);
    sent.push(...answers);
  }

  beforeAll(async () => {
    expect((await runCli(['migrate'], { env: env() })).code).toBe(0);
    const control = spawnCli(['control', '--admin-listen', '127.0.0.1:0'], env());
    d().daemons.push(control);
    adminUrl = (await control.waitFor(/"adminUrl":"(http:\/\/[^"]+)"/))[1]!;
    admin = createAdminClient({ baseUrl: adminUrl, token: ADMIN_TOKEN });
    await createAccountsAndKeys();
    const [a, b] = await Promise.all([spawnServe('a'), spawnServe('b')]);
    await abandonOneRequest(a);
    await runTrafficStoppingB(a, b);
    expected = tallyExpectedUsage(sent, accountOfKey);
    await waitFor(
      'the rollups to hold every request',
      async () => {
        const counted = [...(await readRollups('key')).values()].reduce((n, row) => n + row.requests, 0);
        if (counted !== sent.length) throw new Error(`the rollups hold ${counted} of the ${sent.length} requests the clients sent`);
        return true;
      },
      10_000,
    );
  }, 60_000);

  it('the scenario produced every kind of outcome it is meant to check', () => {
    const { total } = expected;
    expect(total.requests).toBe(201);
    for (const m of ['successes', 'failuresRateLimited', 'failuresClient', 'failuresUpstream', 'failuresAborted', 'usageMissing'] as const) {
      expect(total[m], m).toBeGreaterThan(0);
    }
    expect(total.images).toBeGreaterThan(total.successes);
    for (const code of ['key_rate_limited', 'accounts_rate_limited'])
      expect(
        sent.some((r) => r.errorCode === code),
        code,
      ).toBe(true);
    // Some requests were ended by no account, and both accounts ended some.
    expect([...expected.byAccount.keys()]).toHaveLength(3);
  });

  it('the rollups per key equal what the clients counted', async () => {
    const byKey = await readRollups('key');
    expect([...byKey.keys()].sort()).toEqual([...expected.byKey.keys()].sort());
    for (const [keyId, tally] of expected.byKey) {
      const row = byKey.get(keyId)!;
      expect(pickTally(row), keyId).toEqual(tally);
      expect(
        row.latencyBuckets.reduce((sum, n) => sum + n, 0),
        keyId,
      ).toBe(tally.requests);
    }
  });

  it('the rollups per account equal what the clients counted (answers the gateway made itself, and the abandoned request, under no account)', async () => {
    const byAccount = await readRollups('account');
    expect([...byAccount.keys()].sort()).toEqual([...expected.byAccount.keys()].sort());
    for (const [accountId, tally] of expected.byAccount) expect(pickTally(byAccount.get(accountId)!), String(accountId)).toEqual(tally);
  });

  it("each key's counters, and their sum, equal what the clients counted", async () => {
    const summary = await admin.usage.summary();
    for (const [keyId, tally] of expected.byKey) {
      const counters = summary.keys.find((k) => k.id === keyId)!;
      expect(pickTally(counters, KEY_COUNTER_MEASURES), keyId).toEqual(pickTally(tally, KEY_COUNTER_MEASURES));
    }
    expect(pickTally(summary.totals, KEY_COUNTER_MEASURES)).toEqual(pickTally(expected.total, KEY_COUNTER_MEASURES));
  });

  it('the CLI report and the admin CSV, parsed as CSV, hold the same figures: what the clients counted', async () => {
    const query = `since=0&until=${EVERYTHING.untilMs}&by=key`;
    const res = await fetch(`${adminUrl}/admin/api/usage?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/csv' } });
    expect(res.status).toBe(200);
    const adminCsv = await res.text();
    const cli = await runCli(['usage', '--since', '0', '--until', String(EVERYTHING.untilMs), '--by', 'key', '--format', 'csv'], { env: env() });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(adminCsv);
    const rows = parse(adminCsv, { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.key_id).sort()).toEqual([...expected.byKey.keys()].sort());
    for (const row of rows) {
      const figures = Object.fromEntries(TALLIED_MEASURES.map((m) => [m, Number(row[toSnakeName(m)])]));
      expect(figures, row.key_name).toEqual(pickTally(expected.byKey.get(row.key_id!)!));
    }
  });
});
