import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;

beforeAll(async () => {
  h = await startGatewayHarness();
  await h.importAccount('rh-paced');
  await h.importAccount('rh-limited-a');
  await h.importAccount('rh-limited-b');
}, 60_000);
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

/** What the SDK's transport saw: each request as sent, and each answer's status and retry hints. */
interface Exchange {
  sentAt: number;
  answeredAt: number;
  status: number;
  retryAfter: string | null;
  retryAfterMs: string | null;
}

/** The official SDK with its default retry policy (no maxRetries given), recording every exchange. */
function recordingSdk(secret: string): { sdk: OpenAI; exchanges: Exchange[] } {
  const exchanges: Exchange[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const sentAt = Date.now();
    const res = await fetch(input, init);
    exchanges.push({
      sentAt,
      answeredAt: Date.now(),
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      retryAfterMs: res.headers.get('retry-after-ms'),
    });
    return res;
  };
  return { sdk: new OpenAI({ apiKey: secret, baseURL: `${h.gatewayUrl}/v1`, timeout: 60_000, fetch: recordingFetch }), exchanges };
}

/** The value of one series in the Prometheus text, 0 when absent. */
async function requestCount(errorClass: string): Promise<number> {
  const text = await (await fetch(`${h.gatewayUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('codex_image_requests_total{') && l.includes(`error_class="${errorClass}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('the key min start interval', () => {
  it('the SDK with default retries waits out retry-after and its second back-to-back call succeeds', async () => {
    const key = await h.createKey({ minStartIntervalMs: 1_500, routing: { mode: 'accounts', accounts: ['rh-paced'] } });
    const { sdk, exchanges } = recordingSdk(key.secret);
    await sdk.images.generate({ model: 'gpt-image-2', prompt: 'first' });
    const second = await sdk.images.generate({ model: 'gpt-image-2', prompt: 'second' });
    expect(second.data).toHaveLength(1);

    // One refusal, then the success: the SDK waited the hinted time, not its own 0.5 s backoff
    // (which would have drawn a second 429 before any success).
    expect(exchanges.map((e) => e.status)).toEqual([200, 429, 200]);
    const [, refused, served] = exchanges as [Exchange, Exchange, Exchange];
    const hintMs = Number(refused.retryAfterMs);
    expect(hintMs).toBeGreaterThan(1_000);
    expect(hintMs).toBeLessThanOrEqual(1_500);
    expect(refused.retryAfter).toBe('2');
    const waitedMs = served.sentAt - refused.answeredAt;
    expect(waitedMs).toBeGreaterThanOrEqual(hintMs - 5);
    expect(waitedMs).toBeLessThan(hintMs + 500);

    // The gateway saw the same: a success, one key_limited refusal, then a success.
    const events = await waitFor('three log lines for the key', async () => {
      const lines = (await h.readLogEvents()).filter((e) => e.key_id === key.id);
      return lines.length >= 3 ? lines : null;
    });
    expect(events.map((e) => [e.event, e.upstream_status])).toEqual([
      ['attempt', 200],
      ['key_limited', 429],
      ['attempt', 200],
    ]);
  });
});

describe('every account rate-limited upstream', () => {
  it('raises RateLimitError with the soonest reset, and a later request gets the same while the accounts cool down', async () => {
    const key = await h.createKey({ routing: { mode: 'accounts', accounts: ['rh-limited-a', 'rh-limited-b'] } });
    h.fake.setBehavior('rh-limited-a', fakeBehaviors.rateLimited({ resetsInSeconds: 45 }));
    h.fake.setBehavior('rh-limited-b', fakeBehaviors.rateLimited({ resetsInSeconds: 30 }));
    const sdk = h.sdk(key.secret);

    const err = await sdk.images.generate({ prompt: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimited = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimited.status).toBe(429);
    expect(rateLimited.code).toBe('accounts_rate_limited');
    expect(rateLimited.headers.get('retry-after')).toBe('30');
    expect(Number(rateLimited.headers.get('retry-after-ms'))).toBeGreaterThan(29_000);
    expect(Number(rateLimited.headers.get('retry-after-ms'))).toBeLessThanOrEqual(30_000);
    expect(h.fake.requests.map((r) => r.accountId).sort()).toEqual(['rh-limited-a', 'rh-limited-b']);

    const later = await sdk.images.generate({ prompt: 'y' }).catch((e: unknown) => e);
    expect(later).toBeInstanceOf(OpenAI.RateLimitError);
    const again = later as InstanceType<typeof OpenAI.RateLimitError>;
    expect(again.code).toBe('accounts_rate_limited');
    expect(again.message).toContain('rate-limited upstream until');
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(28);
    expect(Number(again.headers.get('retry-after'))).toBeLessThanOrEqual(30);
    expect(Number(again.headers.get('retry-after-ms'))).toBeGreaterThan(27_000);
    expect(Number(again.headers.get('retry-after-ms'))).toBeLessThanOrEqual(30_000);
    expect(h.fake.requests).toHaveLength(2); // the cooling accounts were not asked again
  });
});

describe('a configuration problem', () => {
  it('no_image_accounts says x-should-retry: false, so the SDK (maxRetries 2) asks exactly once', async () => {
    await h.admin.groups.create({ name: 'rh-empty', accounts: [] });
    const key = await h.createKey({ routing: { mode: 'group', group: 'rh-empty' } });
    const before = await requestCount('no_image_accounts');
    const err = await h
      .sdk(key.secret, { maxRetries: 2 })
      .images.generate({ prompt: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    const refused = err as InstanceType<typeof OpenAI.InternalServerError>;
    expect(refused.status).toBe(503);
    expect(refused.code).toBe('no_image_accounts');
    expect(refused.message).toContain('codex-image-gateway accounts import');
    expect(refused.headers.get('x-should-retry')).toBe('false');
    expect(refused.headers.get('retry-after')).toBeNull();
    expect((await requestCount('no_image_accounts')) - before).toBe(1);
    expect(h.fake.requests).toHaveLength(0);
  });
});
