import { RecencyList, type RecencyNode } from './recency-list.js';
/**
 * Sum (or count) per key over a sliding window, in fixed buckets: memory is `buckets` numbers per key whatever
 * the rate, and the answer is exact to one bucket's width. Time is event time, so a replay gives the same sums.
 */
export interface SlidingWindow {
  /** Adds `amount` at `tsMs` for `key`; returns the key's total over the window ending at `tsMs`. */
  add(key: string, tsMs: number, amount?: number): number;
  /** The key's total over the window ending at `tsMs`, without adding. */
  total(key: string, tsMs: number): number;
  /** Start (ms) of the first non-empty bucket still in the window of `key` at `tsMs`. */
  windowStart(key: string, tsMs: number): number | undefined;
  /** Forgets keys with nothing in the window ending at `nowMs`. */
  prune(nowMs: number): void;
  readonly size: number;
}

interface Ring extends RecencyNode<Ring> {
  readonly key: string;
  /** Bucket index (absolute: floor(ts / width)) of each slot, or -1. */
  ids: Float64Array;
  sums: Float64Array;
  last: number;
}

/** Creates a sliding window of `windowMs` split into `buckets` buckets, holding at most `maxKeys` keys (LRU). */
export function createSlidingWindow({
  windowMs,
  buckets = 10,
  maxKeys = 100_000,
}: {
  windowMs: number;
  buckets?: number;
  maxKeys?: number;
}): SlidingWindow {
  const width = Math.max(1, Math.ceil(windowMs / buckets));
  const rings = new Map<string, Ring>();
  const recency = new RecencyList<Ring>();

  function forget(r: Ring): void {
    rings.delete(r.key);
    recency.unlink(r);
  }

  function sum(r: Ring, bucket: number): number {
    let total = 0;
    for (let i = 0; i < buckets; i += 1) {
      const id = r.ids[i] as number;
      if (id > bucket - buckets && id <= bucket) total += r.sums[i] as number;
    }
    return total;
  }

  return {
    add(key, tsMs, amount = 1) {
      const bucket = Math.floor(tsMs / width);
      let r = rings.get(key);
      if (r === undefined) {
        if (rings.size >= maxKeys && recency.oldest !== undefined) forget(recency.oldest);
        r = {
          key,
          ids: new Float64Array(buckets).fill(-1),
          sums: new Float64Array(buckets),
          last: bucket,
          older: undefined,
          newer: undefined,
        };
        rings.set(key, r);
        recency.append(r);
      } else {
        recency.touch(r);
      }
      const slot = ((bucket % buckets) + buckets) % buckets;
      // An event older than the window (late arrival) is still counted in its own bucket if that bucket is live.
      if (r.ids[slot] !== bucket) {
        if (bucket <= (r.ids[slot] as number)) return sum(r, Math.max(bucket, r.last));
        r.ids[slot] = bucket;
        r.sums[slot] = 0;
      }
      r.sums[slot] = (r.sums[slot] as number) + amount;
      if (bucket > r.last) r.last = bucket;
      return sum(r, Math.max(bucket, r.last));
    },
    total(key, tsMs) {
      const r = rings.get(key);
      return r === undefined ? 0 : sum(r, Math.floor(tsMs / width));
    },
    windowStart(key, tsMs) {
      const r = rings.get(key);
      if (r === undefined) return undefined;
      const bucket = Math.floor(tsMs / width);
      let first: number | undefined;
      for (let i = 0; i < buckets; i += 1) {
        const id = r.ids[i] as number;
        if (id > bucket - buckets && id <= bucket && (r.sums[i] as number) > 0 && (first === undefined || id < first)) {
          first = id;
        }
      }
      return first === undefined ? undefined : first * width;
    },
    prune(nowMs) {
      const bucket = Math.floor(nowMs / width);
      for (const r of rings.values()) if (r.last <= bucket - buckets) forget(r);
    },
    get size() {
      return rings.size;
    },
  };
}
