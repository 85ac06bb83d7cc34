import { describe, expect, it } from 'vitest';
import { fingerprintToken } from '../../../src/dispatch/account-health.js';
import { LEARNED_COOLDOWN_MS, LearnedCooldowns } from '../../../src/dispatch/learned-cooldowns.js';

describe('LearnedCooldowns: what Redis said of an account, believed for a moment', () => {
  it('holds the cooldown until the sooner of its end and LEARNED_COOLDOWN_MS, then forgets it', () => {
    let now = 1_000;
    const learned = new LearnedCooldowns(() => now);
    learned.learn('a', 'rate_limited', 60_000, 'tok');
    expect(learned.peek('a', 'tok')).toEqual({ accountId: 'a', cause: 'rate_limited', untilMs: 60_000, failures: 0, capped: false });
    now += LEARNED_COOLDOWN_MS - 1;
    expect(learned.peek('a', 'tok')).not.toBeNull();
    now += 1;
    expect(learned.peek('a', 'tok')).toBeNull();
    learned.learn('b', 'upstream_failure', now + 10, 'tok');
    now += 10;
    expect(learned.peek('b', 'tok')).toBeNull();
  });

  it('an auth cooldown ends for a new token; other causes do not look at the token', () => {
    const learned = new LearnedCooldowns(() => 0);
    learned.learn('a', 'auth', 500, 'old-token');
    learned.learn('b', 'rate_limited', 500, 'old-token');
    expect(learned.peek('a', 'new-token')).toBeNull();
    expect(learned.peek('b', 'new-token')).not.toBeNull();
    learned.learn('a', 'auth', 500, 'old-token');
    expect(learned.peek('a', 'old-token')?.cause).toBe('auth');
    expect(fingerprintToken('old-token')).not.toBe(fingerprintToken('new-token'));
  });

  it('forget drops the named accounts at once (a release or a clear was announced)', () => {
    const learned = new LearnedCooldowns(() => 0);
    learned.learn('a', 'rate_limited', 500, null);
    learned.learn('b', 'rate_limited', 500, null);
    learned.forget(['a']);
    expect(learned.peek('a', 't')).toBeNull();
    expect(learned.peek('b', 't')).not.toBeNull();
  });
});
