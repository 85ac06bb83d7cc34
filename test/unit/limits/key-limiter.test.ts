import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_AFTER_MS } from '../../../src/errors/retry-hint.js';
import { describeKeyLimitRejection, KeyLimiter } from '../../../src/limits/key-limiter.js';

const clock = (start = 1_000) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('KeyLimiter', () => {
  it('admits up to max concurrency, then rejects with key_max_concurrency', () => {
    const limiter = new KeyLimiter();
    const first = limiter.admit('key-1', { maxConcurrency: 1, minStartIntervalMs: null });
    expect(first.admitted).toBe(true);
    const second = limiter.admit('key-1', { maxConcurrency: 1, minStartIntervalMs: null });
    expect(second).toEqual({ admitted: false, reason: 'key_max_concurrency', inFlight: 1, retryAfterMs: DEFAULT_RETRY_AFTER_MS });
    if (first.admitted) first.permit.release();
    expect(limiter.admit('key-1', { maxConcurrency: 1, minStartIntervalMs: null }).admitted).toBe(true);
  });

  it('keys are independent', () => {
    const limiter = new KeyLimiter();
    expect(limiter.admit('a', { maxConcurrency: 1, minStartIntervalMs: null }).admitted).toBe(true);
    expect(limiter.admit('b', { maxConcurrency: 1, minStartIntervalMs: null }).admitted).toBe(true);
  });

  it('enforces the min start interval even after the first permit is released', () => {
    const c = clock();
    const limiter = new KeyLimiter(c.now);
    const limits = { maxConcurrency: null, minStartIntervalMs: 60_000 };
    const first = limiter.admit('key-1', limits);
    if (first.admitted) first.permit.release();
    c.advance(59_999);
    expect(limiter.admit('key-1', limits)).toMatchObject({ admitted: false, reason: 'key_min_start_interval' });
    c.advance(1);
    expect(limiter.admit('key-1', limits).admitted).toBe(true);
  });

  it('a rejection does not move the interval clock', () => {
    const c = clock();
    const limiter = new KeyLimiter(c.now);
    const limits = { maxConcurrency: null, minStartIntervalMs: 1_000 };
    limiter.admit('k', limits);
    c.advance(600);
    expect(limiter.admit('k', limits).admitted).toBe(false);
    c.advance(400);
    expect(limiter.admit('k', limits).admitted).toBe(true);
  });

  it('a refusal by the interval gate says how long until the next start slot', () => {
    const c = clock();
    const limiter = new KeyLimiter(c.now);
    const limits = { maxConcurrency: null, minStartIntervalMs: 1_500 };
    limiter.admit('k', limits);
    expect(limiter.admit('k', limits)).toMatchObject({ reason: 'key_min_start_interval', retryAfterMs: 1_500 });
    c.advance(1_200);
    expect(limiter.admit('k', limits)).toMatchObject({ reason: 'key_min_start_interval', retryAfterMs: 300 });
    c.advance(299);
    expect(limiter.admit('k', limits)).toMatchObject({ reason: 'key_min_start_interval', retryAfterMs: 1 });
    c.advance(1);
    expect(limiter.admit('k', limits).admitted).toBe(true);
  });

  it('a refusal by the concurrency gate asks for the default wait, or the next start slot when later', () => {
    const c = clock();
    const limiter = new KeyLimiter(c.now);
    const limits = { maxConcurrency: 1, minStartIntervalMs: 5_000 };
    limiter.admit('k', limits);
    c.advance(1_000);
    expect(limiter.admit('k', limits)).toMatchObject({ reason: 'key_max_concurrency', retryAfterMs: 4_000 });
    c.advance(3_500);
    expect(limiter.admit('k', limits)).toMatchObject({ reason: 'key_max_concurrency', retryAfterMs: DEFAULT_RETRY_AFTER_MS });
    expect(limiter.admit('other', { maxConcurrency: 1, minStartIntervalMs: null }).admitted).toBe(true);
    expect(limiter.admit('other', { maxConcurrency: 1, minStartIntervalMs: null })).toMatchObject({ retryAfterMs: DEFAULT_RETRY_AFTER_MS });
  });

  it('reports the concurrency gate first when both gates fail', () => {
    const limiter = new KeyLimiter(() => 5);
    const limits = { maxConcurrency: 1, minStartIntervalMs: 1_000 };
    limiter.admit('k', limits);
    expect(limiter.admit('k', limits)).toMatchObject({ reason: 'key_max_concurrency' });
  });

  it('0 and null disable a gate', () => {
    const limiter = new KeyLimiter(() => 5);
    for (let i = 0; i < 50; i += 1) expect(limiter.admit('k', { maxConcurrency: 0, minStartIntervalMs: 0 }).admitted).toBe(true);
    expect(limiter.inFlight('k')).toBe(50);
  });

  it('releasing a permit twice frees one slot only', () => {
    const limiter = new KeyLimiter();
    const limits = { maxConcurrency: 2, minStartIntervalMs: null };
    const a = limiter.admit('k', limits);
    limiter.admit('k', limits);
    if (a.admitted) {
      a.permit.release();
      a.permit.release();
    }
    expect(limiter.inFlight('k')).toBe(1);
  });
});

describe('describeKeyLimitRejection', () => {
  it.each([
    [{ maxConcurrency: 2, minStartIntervalMs: null }, 'request_max_concurrency=2 request_min_start_interval_ms=unlimited'],
    [{ maxConcurrency: null, minStartIntervalMs: 500 }, 'request_max_concurrency=unlimited request_min_start_interval_ms=500'],
    [{ maxConcurrency: 0, minStartIntervalMs: 0 }, 'request_max_concurrency=unlimited request_min_start_interval_ms=0'],
  ])('formats %j like the original', (limits, tail) => {
    expect(describeKeyLimitRejection('key_max_concurrency', 3, limits)).toBe(`key image request limit reached: key_max_concurrency in_flight=3 ${tail}`);
  });
});
