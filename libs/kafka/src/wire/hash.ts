// The two hashes a Kafka producer needs: CRC-32C over a record batch (the broker rejects a batch whose checksum
// differs: CORRUPT_MESSAGE) and murmur2 over a key (the Java client's default partitioner, so a key lands on the same
// partition whichever client produced it).
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC-32C of `buf[start, end)`, as an unsigned 32-bit number. Native (SSE 4.2 / ARMv8 CRC instructions through
 * @node-rs/crc32): 5.5 GB/s here against 640 MB/s for a slice-by-8 table loop in JS, which was 5 % of the log
 * collector's CPU.
 */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  return nativeCrc32c(buf.subarray(start, end)) >>> 0;
}

/** murmur2 (32-bit, seed 0x9747b28c) of `data`, as the Java client computes it (a signed 32-bit number). */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The tail bytes, as the Java switch with fall-through does.
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition the Java client's default partitioner gives a keyed message. */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;
}
