import { describe, expect, it } from 'vitest';
import { assignCoPartitioned } from './co-partitioned.js';

const six = [0, 1, 2, 3, 4, 5];

describe('assignCoPartitioned', () => {
  it('gives partition p of every topic to the same member', () => {
    const a = assignCoPartitioned(
      ['m-c', 'm-a', 'm-b'],
      new Map([
        ['activity', six],
        ['changes', six],
        ['egress', six],
      ]),
    );
    expect(a.get('m-a')).toEqual({ activity: [0, 3], changes: [0, 3], egress: [0, 3] });
    expect(a.get('m-b')).toEqual({ activity: [1, 4], changes: [1, 4], egress: [1, 4] });
    expect(a.get('m-c')).toEqual({ activity: [2, 5], changes: [2, 5], egress: [2, 5] });
  });

  it('hands every partition out exactly once, whatever the number of members', () => {
    for (const members of [1, 2, 4, 7]) {
      const ids = Array.from({ length: members }, (_, i) => `m${i}`);
      const a = assignCoPartitioned(ids, new Map([['t', six]]));
      const all = [...a.values()].flatMap((x) => x['t'] ?? []).sort((x, y) => x - y);
      expect(all).toEqual(six);
      // More members than partitions: the extra ones get nothing (idle standbys), not a share of a partition.
      expect([...a.values()].filter((x) => (x['t'] ?? []).length > 0).length).toBe(Math.min(members, 6));
    }
  });
});
