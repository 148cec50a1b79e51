import { describe, expect, it } from 'vitest';
import { splitByBytes } from './producer.js';

const msg = (key: string, size: number) => ({ key, value: Buffer.alloc(size, 1) });

describe('splitByBytes', () => {
  it('keeps order and bounds each run', () => {
    const messages = [msg('a', 400), msg('b', 400), msg('c', 400), msg('d', 100), msg('e', 1000)];
    const runs = splitByBytes(messages, 1000);
    expect(runs.map((r) => r.map((m) => m.key))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(runs.flat()).toEqual(messages);
  });
  it('gives a message larger than the bound a run of its own', () => {
    const runs = splitByBytes([msg('a', 10), msg('big', 5000), msg('b', 10)], 1000);
    expect(runs.map((r) => r.map((m) => m.key))).toEqual([['a'], ['big'], ['b']]);
  });
  it('counts key bytes', () => {
    expect(splitByBytes([msg('é'.repeat(300), 400), msg('k', 400)], 1000)).toHaveLength(2);
  });
});
