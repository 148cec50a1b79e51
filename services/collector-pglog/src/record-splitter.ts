import type { LogFormat, RawRecord } from './log-record.js';

/** A record too long to keep in memory: skipped, reported with its position. */
export interface OversizedRecord {
  file: string;
  offset: number;
  bytes: number;
}

/** What one {@link RecordSplitter.push} produced. */
export interface SplitResult {
  records: RawRecord[];
  oversized: OversizedRecord[];
}

const NL = 0x0a;
const QUOTE = 0x22;
const EMPTY = Buffer.alloc(0);

/**
 * Cuts a byte stream (one log file, read in chunks) into whole records. A trailing partial record is kept until the
 * rest arrives: the server may be in the middle of writing it. jsonlog records end at every newline (JSON escapes
 * newlines); csvlog records end at a newline outside quotes (a quoted field can span lines). A record longer than
 * `maxRecordBytes` is skipped to its end and reported, so one giant statement cannot exhaust memory.
 */
export class RecordSplitter {
  private pending: Buffer = EMPTY;
  /** File offset of `pending[0]`. */
  private pendingOffset: number;
  /** Bytes of `pending` already scanned for the end of the current record (csvlog quote state covers them). */
  private scanned = 0;
  private quoted = false;
  /** Skipping an oversized record that started at this offset. */
  private skippingFrom: number | undefined;

  constructor(
    readonly format: LogFormat,
    readonly file: string,
    startOffset: number,
    private readonly maxRecordBytes = 32 << 20,
  ) {
    this.pendingOffset = startOffset;
  }

  /** File offset just after the last complete record handed out (where a restart would begin). */
  get offset(): number {
    return this.pendingOffset;
  }

  /** Bytes held for a record not complete yet. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Feeds the next chunk of the file (contiguous with the previous one). */
  push(chunk: Buffer): SplitResult {
    const records: RawRecord[] = [];
    const oversized: OversizedRecord[] = [];
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let start = 0;
    let pos = this.scanned;
    const csv = this.format === 'csvlog';
    for (;;) {
      const end = csv ? this.csvEnd(buf, pos) : buf.indexOf(NL, pos);
      if (end < 0) break;
      const next = end + 1;
      if (this.skippingFrom !== undefined) {
        const from = this.skippingFrom;
        oversized.push({ file: this.file, offset: from, bytes: this.pendingOffset + next - from });
        this.skippingFrom = undefined;
      } else if (end > start) {
        records.push({
          format: this.format,
          // Its own string, not a slice of a chunk-wide one: V8 keeps a substring (and what JSON.parse reads out
          // of it) as a view of its parent, so an id kept in a cache would pin the whole chunk.
          text: buf.toString('utf8', start, end),
          file: this.file,
          offset: this.pendingOffset + start,
          bytes: next - start,
        });
      }
      start = next;
      pos = next;
    }
    // Keep the unfinished record; rebase offsets onto it.
    this.pendingOffset += start;
    buf = start === 0 ? buf : buf.subarray(start);
    this.scanned = buf.length;
    if (buf.length > this.maxRecordBytes) {
      // Drop what we hold but remember where the record began; keep the csv quote state across the drop.
      this.skippingFrom ??= this.pendingOffset;
      this.pendingOffset += buf.length;
      buf = EMPTY;
      this.scanned = 0;
    }
    // Copy a small remainder out of a large chunk so the chunk's memory can be released.
    this.pending = buf.length > 0 && buf.length < chunk.length / 4 ? Buffer.from(buf) : buf;
    return { records, oversized };
  }

  /**
   * csvlog: index of the newline ending the record scanned from `pos`, or -1 (state kept in `quoted`). The next
   * newline is searched again only once passed, not once per quote.
   */
  private csvEnd(buf: Buffer, pos: number): number {
    let p = pos;
    let nl = -1;
    for (;;) {
      if (this.quoted) {
        const q = buf.indexOf(QUOTE, p);
        if (q < 0) return -1;
        // A doubled quote inside a quoted field toggles twice: same result as reading them one by one.
        this.quoted = false;
        p = q + 1;
        continue;
      }
      if (nl < p) nl = buf.indexOf(NL, p);
      const q = buf.indexOf(QUOTE, p);
      if (nl < 0) {
        if (q < 0) return -1;
        this.quoted = true;
        p = q + 1;
        continue;
      }
      if (q < 0 || nl < q) return nl;
      this.quoted = true;
      p = q + 1;
    }
  }
}
