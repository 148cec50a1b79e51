import { describe, expect, it } from 'vitest';
import { createSessionStore, saveFilter } from './sessions.js';
import { parseCookies, serializeCookie } from './cookies.js';
import { createCsrf } from './csrf.js';
import { createTokenCheck } from './users.js';

describe('evidence-page sessions', () => {
  it('end after the idle time and after the maximum lifetime, whichever comes first', () => {
    let now = 1_000_000;
    const sessions = createSessionStore({ idleMs: 1000, maxMs: 2500, now: () => now });
    const s = sessions.create('alice');
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    now += 900;
    expect(sessions.get(s.id)?.user).toBe('alice');
    now += 900; // 900 ms since last use: still alive
    expect(sessions.get(s.id)?.user).toBe('alice');
    now += 1001; // idle too long
    expect(sessions.get(s.id)).toBeUndefined();

    const t = sessions.create('bob');
    for (let i = 0; i < 5; i += 1) {
      now += 500;
      expect(sessions.get(t.id)?.user).toBe('bob');
    }
    now += 500;
    expect(sessions.get(t.id)).toBeUndefined(); // 3000 ms after sign-in although used every 500 ms
  });

  it('keep at most maxSessions, dropping the oldest, and forget destroyed ones', () => {
    const sessions = createSessionStore({ idleMs: 1e9, maxMs: 1e9, maxSessions: 2 });
    const a = sessions.create('a');
    const b = sessions.create('b');
    const c = sessions.create('c');
    expect([sessions.get(a.id), sessions.get(b.id)?.user, sessions.get(c.id)?.user]).toEqual([undefined, 'b', 'c']);
    sessions.destroy(b.id);
    expect(sessions.get(b.id)).toBeUndefined();
    expect(sessions.get(undefined)).toBeUndefined();
  });

  it('keep posted filters under opaque ids, the newest 50', () => {
    const s = createSessionStore({ idleMs: 1e9, maxMs: 1e9 }).create('a');
    const first = saveFilter(s, { role: 'dba_alice' });
    expect(first).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(first).not.toContain('alice');
    for (let i = 0; i < 50; i += 1) saveFilter(s, { rule: `r${i}` });
    expect(s.filters.size).toBe(50);
    expect(s.filters.has(first)).toBe(false);
  });
});

describe('cookies', () => {
  it('are HttpOnly, SameSite=Strict, Path=/, and Secure only when asked', () => {
    expect(serializeCookie('vigie_session', 'abc_-1', { secure: false, maxAgeSeconds: 60 })).toBe(
      'vigie_session=abc_-1; Path=/; HttpOnly; SameSite=Strict; Max-Age=60',
    );
    expect(serializeCookie('vigie_session', '', { secure: true, maxAgeSeconds: 0 })).toBe(
      'vigie_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure',
    );
    expect(() => serializeCookie('x', 'a;b', { secure: false, maxAgeSeconds: 1 })).toThrow();
  });

  it('are read from the Cookie header, the first of a repeated name winning', () => {
    const c = parseCookies('a=1; vigie_session=xyz; a=2; junk; =x');
    expect([...c]).toEqual([
      ['a', '1'],
      ['vigie_session', 'xyz'],
    ]);
    expect(parseCookies(undefined).size).toBe(0);
  });
});

describe('CSRF tokens', () => {
  it('verify only for the binding they were issued for, and only under the same key', () => {
    const csrf = createCsrf();
    const token = csrf.issue('session-1');
    expect(csrf.verify('session-1', token)).toBe(true);
    expect(csrf.verify('session-2', token)).toBe(false);
    expect(csrf.verify(undefined, token)).toBe(false);
    expect(csrf.verify('session-1', undefined)).toBe(false);
    expect(csrf.verify('session-1', `${token}x`)).toBe(false);
    expect(createCsrf().verify('session-1', token)).toBe(false);
  });
});

describe('token check', () => {
  it('names the holder of a personal token and marks the shared one', () => {
    const check = createTokenCheck('shared-token-0123456789', [
      { name: 'Alice Martin', token: 'alice-token-0123456789' },
      { name: 'Bob', token: 'bob-token-0123456789abc' },
    ]);
    expect(check('alice-token-0123456789')).toEqual({ name: 'Alice Martin', shared: false });
    expect(check('shared-token-0123456789')).toEqual({ name: 'api-token', shared: true });
    expect(check('alice-token-012345678')).toBeUndefined();
    expect(check('')).toBeUndefined();
  });
});
