import { describe, expect, it } from 'vitest';
import type { ClientClass } from '@vigie/contract';
import { createSessionTable } from './session-table.js';

const classify = (addr: string | undefined): ClientClass => (addr === undefined ? 'unknown' : 'non-bastion');
const info = (id: string, clientAddr?: string) => ({ id, pid: 1, ...(clientAddr !== undefined && { clientAddr }) });

describe('session table', () => {
  it('evicts the least recently touched session when full, whatever the order of creation', () => {
    const evicted: string[] = [];
    const table = createSessionTable({ maxSessions: 3, onEvict: (s) => evicted.push(s.id) });
    for (const id of ['a', 'b', 'c']) table.touch('local', info(id), 0, classify);
    // Touches in another order than creation: b, then a, then c again (the newest stays newest).
    table.touch('local', info('b'), 1, classify);
    table.touch('local', info('a'), 2, classify);
    table.touch('local', info('c'), 3, classify);
    table.touch('local', info('c'), 4, classify);
    table.touch('local', info('d'), 5, classify);
    expect(evicted).toEqual(['b']);
    table.touch('local', info('e'), 6, classify);
    table.touch('local', info('f'), 7, classify);
    expect(evicted).toEqual(['b', 'a', 'c']);
    expect(table.size).toBe(3);
    expect(table.evicted).toBe(3);
    expect(table.get('local/a')).toBeUndefined();
    expect(table.get('local/f')?.events).toBe(1);
  });

  it('sweeps ended and idle sessions, least recently touched first, and keeps the others in order', () => {
    const evicted: string[] = [];
    const table = createSessionTable({
      maxSessions: 10,
      idleMs: 100,
      endedGraceMs: 10,
      onEvict: (s) => evicted.push(s.id),
    });
    for (const id of ['a', 'b', 'c', 'd']) table.touch('local', info(id), 0, classify, 0);
    table.touch('local', info('a'), 50, classify, 50);
    const c = table.touch('local', info('c'), 60, classify, 60);
    c.endedAtMs = 60;
    expect(table.sweep(100).map((s) => s.id)).toEqual(['b', 'd', 'c']);
    expect(evicted).toEqual(['b', 'd', 'c']);
    expect(table.size).toBe(1);
    // What is left is still ordered: a new session and a touch, then the cap evicts by recency.
    const small = createSessionTable({ maxSessions: 2, onEvict: (s) => evicted.push(s.id) });
    small.touch('local', info('x'), 0, classify);
    small.touch('local', info('y'), 0, classify);
    small.sweep(0);
    small.touch('local', info('x'), 1, classify);
    small.touch('local', info('z'), 2, classify);
    expect(evicted.at(-1)).toBe('y');
  });

  it('keeps the same session id of two clusters apart', () => {
    const table = createSessionTable({ maxSessions: 2 });
    const one = table.touch('one', info('a'), 0, classify);
    const two = table.touch('two', info('a'), 0, classify);
    expect(one).not.toBe(two);
    expect(table.touch('one', info('a'), 1, classify)).toBe(one);
    table.touch('three', info('a'), 2, classify);
    expect([table.get('one/a'), table.get('two/a')]).toEqual([one, undefined]);
    expect(table.touch('two', info('a'), 3, classify)).not.toBe(two);
  });

  it('refreshes what an event says about its session and classifies a new client address', () => {
    const table = createSessionTable();
    const s = table.touch('local', { ...info('a', '10.0.0.1'), user: 'alice' }, 5, classify, 7);
    expect(s).toMatchObject({ key: 'local/a', login: 'alice', clientClass: 'non-bastion', lastEventMs: 5, events: 1 });
    table.touch('local', info('a'), 3, classify, 9);
    expect(s).toMatchObject({ lastEventMs: 5, lastArrivedMs: 9, events: 2, clientAddr: '10.0.0.1' });
  });
});
