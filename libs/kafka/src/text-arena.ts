/**
 * UTF-8 bytes of many short texts (encoded events), written one after the other into shared off-heap chunks.
 *
 * An event's JSON waits in a batch and then in flight until Kafka acknowledges it: a few hundred milliseconds, long
 * enough for V8 to promote it to the old generation when it is a string. On the log collector that was 500 MB of
 * promoted strings per 500,000 events (sampled with includeObjectsCollectedByMajorGC), which the old generation
 * then had to grow for and mark-compact away. Encoded here at once, the string dies young and the bytes stay off the
 * V8 heap; a chunk is freed when the last view into it is.
 */
export class TextArena {
  private chunk: Buffer;
  private used = 0;
  /** Number of chunks filled so far (the current one is number `sealedCount`). */
  private sealedCount = 0;
  /** Filled chunks not released yet, oldest first, with their numbers. */
  private readonly sealed: { n: number; chunk: Buffer }[] = [];
  private readonly free: Buffer[] = [];

  constructor(
    private readonly chunkBytes = 1 << 20,
    private readonly maxFree = 4,
  ) {
    this.chunk = Buffer.allocUnsafeSlow(chunkBytes);
  }

  /** The UTF-8 bytes of `text`: a view into the current chunk, or a Buffer of its own for a text above 1/4 chunk. */
  encode(text: string): Buffer {
    const worst = text.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (worst > this.chunkBytes >>> 2) return Buffer.from(text);
    if (this.used + worst > this.chunkBytes) {
      this.sealed.push({ n: this.sealedCount, chunk: this.chunk });
      this.sealedCount += 1;
      this.chunk = this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes);
      this.used = 0;
    }
    const start = this.used;
    this.used += this.chunk.write(text, start);
    return this.chunk.subarray(start, this.used);
  }

  /** A position: every view handed out so far lies in a chunk numbered at most `mark()`. */
  mark(): number {
    return this.sealedCount;
  }

  /**
   * Nothing will read the views handed out before `mark` any more: the chunks filled before the chunk that was
   * current at `mark` are reused (views into them then show other bytes). Without releases, chunks are left to the
   * garbage collector.
   */
  release(mark: number): void {
    while (this.sealed.length > 0 && this.sealed[0]!.n < mark) {
      const { chunk } = this.sealed.shift()!;
      if (this.free.length < this.maxFree) this.free.push(chunk);
    }
  }
}

/**
 * A copy of `s` that shares no memory with another string. V8 keeps substrings as views: a session id JSON.parse
 * read from a log record points into the record's text, which points into the whole chunk (128 KiB) it was read
 * from. A key kept for a while (in flight, in a cache) would keep that chunk alive: found in a heap snapshot of the
 * log collector, where every chunk outlived two young-generation collections because of the keys in flight.
 */
export const detachString = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
