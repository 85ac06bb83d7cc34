import { describe, expect, it } from 'vitest';
import { buildSessionCookie, createAdminSessionStore, isCsrfTokenMatch, parseCookieValue } from '../../../src/admin/admin-session.js';

describe('admin session store', () => {
  it('creates random sessions that live while used and expire after the idle time', () => {
    let t = 0;
    const store = createAdminSessionStore({ now: () => t, idleMs: 1_000 });
    const a = store.create();
    const b = store.create();
    expect(a.id).not.toBe(b.id);
    expect(a.csrfToken).not.toBe(a.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    t = 999;
    expect(store.touch(a.id)?.csrfToken).toBe(a.csrfToken); // used just in time: idle clock restarts
    t = 1_998;
    expect(store.touch(a.id)).not.toBeNull();
    expect(store.touch(b.id)).toBeNull(); // idle for 1998 ms ≥ 1000
    t = 2_998;
    expect(store.touch(a.id)).toBeNull(); // exactly idleMs without use
    expect(store.size()).toBe(0);
  });

  it('delete ends a session; unknown ids are refused', () => {
    const store = createAdminSessionStore();
    const s = store.create();
    expect(store.touch('nope')).toBeNull();
    expect(store.delete(s.id)).toBe(true);
    expect(store.delete(s.id)).toBe(false);
    expect(store.touch(s.id)).toBeNull();
  });

  it('keeps at most maxSessions, dropping the least recently used', () => {
    const store = createAdminSessionStore({ maxSessions: 2 });
    const a = store.create();
    const b = store.create();
    store.touch(a.id);
    store.create();
    expect(store.touch(b.id)).toBeNull();
    expect(store.touch(a.id)).not.toBeNull();
    expect(store.size()).toBe(2);
  });
});

describe('CSRF token check', () => {
  const session = createAdminSessionStore().create();
  it.each([
    { header: session.csrfToken, ok: true },
    { header: `${session.csrfToken}x`, ok: false },
    { header: session.id, ok: false },
    { header: '', ok: false },
    { header: undefined, ok: false },
    { header: [session.csrfToken], ok: false },
  ])('header $header → $ok', ({ header, ok }) => {
    expect(isCsrfTokenMatch(header, session)).toBe(ok);
  });
});

describe('cookies', () => {
  it.each([
    { header: 'cig_admin_session=abc', value: 'abc' },
    { header: 'x=1; cig_admin_session=abc; y=2', value: 'abc' },
    { header: 'xcig_admin_session=abc', value: null },
    { header: 'cig_admin_session=', value: null },
    { header: undefined, value: null },
  ])('$header → $value', ({ header, value }) => {
    expect(parseCookieValue(header, 'cig_admin_session')).toBe(value);
  });

  it('the session cookie is HttpOnly, SameSite=Strict, scoped to /admin, Secure only on https', () => {
    expect(buildSessionCookie('v', { secure: false, maxAgeS: 60 })).toBe('cig_admin_session=v; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60');
    expect(buildSessionCookie('v', { secure: true, maxAgeS: 60 })).toMatch(/; Secure$/);
  });
});
