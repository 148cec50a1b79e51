import { describe, expect, it } from 'vitest';
import { createFirstSeen } from './first-seen.js';
import { memoize } from './memo.js';
import { compileMembership } from './membership.js';
import { createRecentMap } from './recent-map.js';
import { createSchedule } from './schedule.js';
import { createSequence } from './sequence.js';
import { createSlidingWindow } from './sliding-window.js';

describe('sliding window', () => {
  it('sums per key over the window and forgets what slid out', () => {
    const w = createSlidingWindow({ windowMs: 60_000, buckets: 6 });
    expect(w.add('a', 0, 5)).toBe(5);
    expect(w.add('a', 30_000, 5)).toBe(10);
    expect(w.add('b', 30_000, 1)).toBe(1);
    expect(w.add('a', 59_999, 1)).toBe(11);
    // At 60 s the first bucket [0, 10 s) left the window.
    expect(w.add('a', 60_000, 1)).toBe(7);
    expect(w.total('a', 100_000)).toBe(2);
    expect(w.total('a', 110_000)).toBe(1);
    expect(w.windowStart('a', 60_000)).toBe(30_000);
    // A late event older than the window does not count.
    expect(w.add('a', 0, 100)).toBe(7);
    w.prune(200_000);
    expect(w.size).toBe(0);
  });

  it('keeps at most maxKeys keys', () => {
    const w = createSlidingWindow({ windowMs: 1000, maxKeys: 2 });
    w.add('a', 0);
    w.add('b', 0);
    w.add('a', 1);
    w.add('c', 2);
    expect(w.size).toBe(2);
    expect(w.total('b', 2)).toBe(0);
    expect(w.total('a', 2)).toBe(2);
    // After a prune, the keys left are still evicted least recently added first.
    w.add('c', 5000);
    w.prune(5000);
    expect(w.size).toBe(1);
    w.add('d', 5001);
    w.add('c', 5002);
    w.add('e', 5003);
    expect([w.total('c', 5003), w.total('d', 5003), w.total('e', 5003)]).toEqual([2, 0, 1]);
  });
});

describe('sequence signature', () => {
  const seq = createSequence<string>([
    { name: 'set', test: (e) => e.startsWith('SET') },
    { name: 'snapshot', test: (e) => e.includes('REPEATABLE READ') },
    { name: 'lock', test: (e) => e.startsWith('LOCK') },
    { name: 'copy', test: (e) => e.startsWith('COPY') },
  ]);

  it('advances in order, may skip steps, repeats the last', () => {
    const p = seq.start();
    expect(seq.feed(p, 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ')).toEqual({ step: 1, final: false });
    expect(seq.feed(p, 'SELECT 1')).toEqual({ step: -1, final: false });
    expect(seq.feed(p, 'COPY a TO stdout')).toEqual({ step: 3, final: true });
    expect(seq.feed(p, 'COPY b TO stdout')).toEqual({ step: 3, final: true });
    expect(p.matched).toEqual(['snapshot', 'copy']);
  });

  it('never goes back to an earlier step', () => {
    const p = seq.start();
    seq.feed(p, 'LOCK TABLE t');
    expect(seq.feed(p, 'SET x')).toEqual({ step: -1, final: false });
    expect(p.reached).toBe(2);
  });
});

describe('first seen', () => {
  it('remembers the first sighting and forgets after a long absence', () => {
    const f = createFirstSeen({ forgetAfterMs: 1000 });
    expect(f.see('app@10.0.0.1', 100)).toBe(100);
    expect(f.see('app@10.0.0.1', 900)).toBe(100);
    expect(f.see('app@10.0.0.1', 1800)).toBe(100);
    expect(f.see('app@10.0.0.1', 3000)).toBe(3000);
  });
});

describe('membership', () => {
  it('matches login or effective role, classes, CIDRs and applications together', () => {
    const m = compileMembership({ roles: ['dba_*'], clientClasses: ['non-bastion'], clients: ['10.0.0.0/8'] });
    expect(m({ login: 'bob', effectiveRole: 'dba_x', clientClass: 'non-bastion', clientAddr: '10.1.2.3' })).toBe(true);
    expect(m({ login: 'dba_x', clientClass: 'bastion', clientAddr: '10.1.2.3' })).toBe(false);
    expect(m({ login: 'dba_x', clientClass: 'non-bastion', clientAddr: '192.168.0.1' })).toBe(false);
    expect(compileMembership({ excludeRoles: ['app_*'] })({ login: 'app_x', clientClass: 'local' })).toBe(false);
  });
});

describe('schedule', () => {
  it('answers per minute in the policy zone', () => {
    const inHours = createSchedule({
      businessHours: { timezone: 'Europe/Paris', days: ['thu'], start: '08:00', end: '19:00', holidays: [] },
    });
    expect(inHours(Date.parse('2026-11-26T06:59:59Z'))).toBe(false);
    expect(inHours(Date.parse('2026-11-26T07:00:00Z'))).toBe(true);
    expect(inHours(Date.parse('2026-11-26T17:59:59Z'))).toBe(true);
    expect(inHours(Date.parse('2026-11-26T18:00:00Z'))).toBe(false);
  });
});

describe('recent map', () => {
  it('forgets by age (event time) and by count, oldest first', () => {
    const m = createRecentMap<string>({ maxKeys: 2, maxAgeMs: 1000 });
    m.set('a', 'A', 0);
    expect(m.get('a', 1000)).toBe('A');
    expect(m.get('a', 1001)).toBeUndefined();
    // An event slightly older than the entry (another topic, out of order) still joins.
    expect(m.get('a', -500)).toBe('A');
    m.set('b', 'B', 10);
    m.set('c', 'C', 20);
    expect([m.get('a', 20), m.get('b', 20), m.get('c', 20)]).toEqual([undefined, 'B', 'C']);
    m.prune(1015);
    expect(m.size).toBe(1);
  });
});

describe('memoize', () => {
  it('computes each key once until it holds maxKeys answers, then starts over', () => {
    const calls: string[] = [];
    const upper = memoize((k: string) => {
      calls.push(k);
      return k === 'none' ? undefined : k.toUpperCase();
    }, 2);
    expect([upper('a'), upper('a'), upper('none'), upper('none')]).toEqual(['A', 'A', undefined, undefined]);
    expect(calls).toEqual(['a', 'none']);
    upper('b');
    expect(upper('a')).toBe('A');
    expect(calls).toEqual(['a', 'none', 'b', 'a']);
  });
});
