import { describe, expect, it } from 'vitest';
import { TextArena, detachString } from './text-arena.js';

describe('TextArena', () => {
  it('writes texts as UTF-8 one after the other into a shared chunk, a large one into a buffer of its own', () => {
    const arena = new TextArena(256);
    const a = arena.encode('héllo');
    const b = arena.encode('{"x":1}');
    expect([a.toString(), b.toString()]).toEqual(['héllo', '{"x":1}']);
    expect(a.length).toBe(6);
    expect(a.buffer).toBe(b.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + a.length);
    const big = arena.encode('x'.repeat(30)); // 90 bytes at worst > 256 / 4
    expect(big.buffer).not.toBe(a.buffer);
    expect(big.toString()).toBe('x'.repeat(30));
  });

  it('starts a new chunk when the worst case does not fit, leaving earlier views intact', () => {
    const arena = new TextArena(256);
    const views = Array.from({ length: 25 }, (_, i) => arena.encode(String(i).repeat(20).slice(0, 20)));
    // 20 characters are 60 bytes at worst: ten fit while at most 196 bytes are used.
    expect(new Set(views.map((v) => v.buffer)).size).toBe(3);
    expect(views.map((v) => v.toString())).toEqual(
      Array.from({ length: 25 }, (_, i) => String(i).repeat(20).slice(0, 20)),
    );
  });
});

describe('detachString', () => {
  it('returns an equal string', () => {
    const s = `session:${'ab'.repeat(20)}`.slice(3, 30);
    expect(detachString(s)).toBe(s);
    expect(detachString('日本')).toBe('日本');
  });
});
