import { describe, expect, it } from 'vitest';
import { formatLsn, maxLsn, parseLsn } from './lsn.js';

describe('lsn', () => {
  it('parses and formats both halves', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
  });

  it('orders numerically, not as text', () => {
    expect(parseLsn('A/0') > parseLsn('9/FFFFFFFF')).toBe(true);
    expect(maxLsn(parseLsn('9/10'), parseLsn('10/1'))).toBe(parseLsn('10/1'));
  });

  it('refuses what is not an LSN', () => {
    expect(() => parseLsn('16B374D848')).toThrow(TypeError);
    expect(() => parseLsn('1/')).toThrow(TypeError);
    expect(() => parseLsn('G/1')).toThrow(TypeError);
  });
});
