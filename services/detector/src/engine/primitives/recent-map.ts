/**
 * A map that forgets: at most `maxKeys` entries (the least recently set go first) and none older than `maxAgeMs`
 * of event time. Used where a join must be remembered for a while but never grow without bound (transaction id →
 * session, transaction id → alert).
 */
export interface RecentMap<V> {
  /** Remembers `value` for `key` as of `tsMs` (moves the key to the newest end). */
  set(key: string, value: V, tsMs: number): void;
  /** The value for `key` if it was set at most `maxAgeMs` before `tsMs` (later sets included). */
  get(key: string, tsMs: number): V | undefined;
  delete(key: string): void;
  /** Forgets entries set more than `maxAgeMs` before `nowMs`. */
  prune(nowMs: number): void;
  readonly size: number;
}

/** Creates a bounded map (LRU on set, age bound on read and prune). */
export function createRecentMap<V>({
  maxKeys = 100_000,
  maxAgeMs = 10 * 60_000,
}: { maxKeys?: number; maxAgeMs?: number } = {}): RecentMap<V> {
  // Insertion order = set order, so the oldest entries are first both for the cap and for pruning.
  const entries = new Map<string, { value: V; atMs: number }>();
  return {
    set(key, value, tsMs) {
      entries.delete(key);
      if (entries.size >= maxKeys) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.set(key, { value, atMs: tsMs });
    },
    get(key, tsMs) {
      const e = entries.get(key);
      // Events from two topics arrive slightly out of order: only an entry too OLD for this event is ignored.
      if (e === undefined || tsMs - e.atMs > maxAgeMs) return undefined;
      return e.value;
    },
    delete(key) {
      entries.delete(key);
    },
    prune(nowMs) {
      for (const [key, e] of entries) {
        if (nowMs - e.atMs <= maxAgeMs) break;
        entries.delete(key);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
