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

describe('TextArena releases', () => {
  // Chunks of 256 bytes: a text of 20 characters (60 bytes at worst) fits while 196 bytes or fewer are used, so ten
  // such texts fill a chunk.
  const text = (c: string) => c.repeat(20);

  it('reuses only the chunks filled before a released mark, and keeps unreleased views intact', () => {
    const arena = new TextArena(256);
    const first = arena.encode(text('a')); // chunk 0
    for (let i = 0; i < 9; i += 1) arena.encode(text('b')); // chunk 0 is full
    arena.encode(text('c')); // chunk 1
    const mark = arena.mark(); // views so far lie in chunks 0 and 1
    const later = arena.encode(text('d')); // chunk 1
    arena.release(mark); // chunk 0 only: chunk 1 was current at the mark
    for (let i = 0; i < 8; i += 1) arena.encode(text('e')); // chunk 1 is full
    const reused = arena.encode(text('f'));
    expect(reused.buffer).toBe(first.buffer);
    expect(later.toString()).toBe(text('d'));
    // Chunk 1 was not released: the next chunk is a new one.
    for (let i = 0; i < 9; i += 1) arena.encode(text('g'));
    expect(arena.encode(text('h')).buffer).not.toBe(later.buffer);
    expect(later.toString()).toBe(text('d'));
  });
});

describe('detachString', () => {
  it('returns an equal string', () => {
    const s = `session:${'ab'.repeat(20)}`.slice(3, 30);
    expect(detachString(s)).toBe(s);
    expect(detachString('日本')).toBe('日本');
  });
});
