import { describe, expect, it } from 'vitest';
import { AccountLimiter } from '../../../src/limits/account-limiter.js';

describe('AccountLimiter', () => {
  it('default cap 3: the fourth is refused, and releasing one frees a slot', () => {
    const limiter = new AccountLimiter();
    const permits = [1, 2, 3].map(() => limiter.tryAcquire('codex-a', 3));
    expect(permits.every(Boolean)).toBe(true);
    expect(limiter.tryAcquire('codex-a', 3)).toBeNull();
    permits[0]!.release();
    expect(limiter.tryAcquire('codex-a', 3)).not.toBeNull();
  });

  it('honours a lowered cap while existing permits drain', () => {
    const limiter = new AccountLimiter();
    const held = [limiter.tryAcquire('a', 3)!, limiter.tryAcquire('a', 3)!];
    expect(limiter.tryAcquire('a', 1)).toBeNull();
    held[0]!.release();
    expect(limiter.tryAcquire('a', 1)).toBeNull();
    held[1]!.release();
    expect(limiter.tryAcquire('a', 1)).not.toBeNull();
  });

  it('treats a cap below 1 as 1', () => {
    const limiter = new AccountLimiter();
    expect(limiter.tryAcquire('a', 0)).not.toBeNull();
    expect(limiter.tryAcquire('a', 0)).toBeNull();
  });

  it('records the last start and reports in-flight changes', () => {
    let t = 10;
    const seen: Array<[string, number]> = [];
    const limiter = new AccountLimiter(
      () => t,
      (id, n) => seen.push([id, n]),
    );
    const p = limiter.tryAcquire('a', 2)!;
    t = 20;
    limiter.tryAcquire('a', 2);
    expect(limiter.lastStartMs('a')).toBe(20);
    p.release();
    p.release();
    expect(seen).toEqual([
      ['a', 1],
      ['a', 2],
      ['a', 1],
    ]);
    expect(limiter.lastStartMs('never')).toBe(0);
  });
});
