/** Remembers when a key (role + host, role + table…) was first seen, bounded in keys and in age. */
export interface FirstSeen {
  /** Records `key` at `tsMs`; returns when it was first seen (`tsMs` itself the first time). */
  see(key: string, tsMs: number): number;
  /** When `key` was first seen, if remembered. */
  firstSeen(key: string): number | undefined;
  readonly size: number;
}

/**
 * Creates a first-seen memory of at most `maxKeys` keys (least recently seen forgotten first); a key not seen for
 * `forgetAfterMs` counts as new again ("not seen for N days").
 */
export function createFirstSeen({
  maxKeys = 100_000,
  forgetAfterMs = 30 * 24 * 3600_000,
}: { maxKeys?: number; forgetAfterMs?: number } = {}): FirstSeen {
  const seen = new Map<string, { first: number; last: number }>();
  return {
    see(key, tsMs) {
      let e = seen.get(key);
      if (e !== undefined && tsMs - e.last >= forgetAfterMs) e = undefined;
      if (e === undefined) {
        if (seen.size >= maxKeys) {
          const oldest = seen.keys().next().value;
          if (oldest !== undefined) seen.delete(oldest);
        }
        e = { first: tsMs, last: tsMs };
      } else {
        seen.delete(key);
        if (tsMs > e.last) e.last = tsMs;
        if (tsMs < e.first) e.first = tsMs;
      }
      seen.set(key, e);
      return e.first;
    },
    firstSeen: (key) => seen.get(key)?.first,
    get size() {
      return seen.size;
    },
  };
}
