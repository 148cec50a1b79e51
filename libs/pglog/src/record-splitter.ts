import { isUtf8 } from 'node:buffer';
import type { LogFormat, RawRecord } from './log-record.js';

/**
 * A record too long to keep in memory: skipped, handed out in its place among the records with its position, its
 * full length (`bytes`) and only its first {@link OVERSIZED_HEAD_BYTES} bytes as `text`.
 */
export type OversizedRecord = RawRecord & { oversized: true };

/** What one {@link RecordSplitter.push} produced. */
export interface SplitResult {
  /** The records completed by this chunk, in file order; oversized ones (`oversized: true`) among them. */
  records: RawRecord[];
  /** Bytes of this chunk's records that were not valid UTF-8 (each replaced by U+FFFD in the text). */
  invalidUtf8Bytes: number;
}

/** How much of an oversized record is kept to describe it (its fields, the first kilobytes of its statement). */
export const OVERSIZED_HEAD_BYTES = 16 << 10;

// A line that starts a csvlog record, as PostgreSQL writes it: log_time, user, database, pid, connection_from,
// session_id, line number, command tag, session start, vxid, txid, severity, SQLSTATE, then the message's opening
// quote followed by something else than a quote. Inside a quoted field every quote is doubled, so no text inside a
// record (a statement, a message, whatever a user typed) can contain this line: it is a safe point to resynchronise
// on when a record was cut short and left the quote state inverted.
const CSV_RECORD_START =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})? [A-Za-z0-9+:-]{1,8},(?:"(?:[^"\n]|"")*")?,(?:"(?:[^"\n]|"")*")?,\d+,(?:"[^"\n]*")?,[0-9a-f]{1,16}\.[0-9a-f]{1,8},\d+,(?:"(?:[^"\n]|"")*")?,(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Za-z0-9+:-]{1,8})?,(?:\d+\/\d+)?,\d+,[A-Z0-9]{1,10},[0-9A-Z]{5},"(?!")/;
/** Enough of a line to hold the leading columns (user and database names are at most 63 bytes each). */
const RECORD_START_BYTES = 1024;

/** 1: the line at `at` starts a csvlog record, 0: it does not, -1: not enough bytes yet to tell. */
function startsCsvRecord(buf: Buffer, at: number): 1 | 0 | -1 {
  // Cheap test first, on the timestamp's shape (`2026-12-05 11:33:12`): most quoted newlines fail here.
  const shape = [48, 48, 48, 48, 45, 48, 48, 45, 48, 48, 32];
  for (let i = 0; i < shape.length; i++) {
    if (at + i >= buf.length) return -1;
    const c = buf[at + i] as number;
    if (shape[i] === 48 ? c < 48 || c > 57 : c !== shape[i]) return 0;
  }
  let end = buf.indexOf(NL, at);
  if (end < 0) {
    if (buf.length - at < RECORD_START_BYTES) return -1;
    end = at + RECORD_START_BYTES;
  }
  return CSV_RECORD_START.test(buf.toString('latin1', at, Math.min(end, at + RECORD_START_BYTES))) ? 1 : 0;
}

const NL = 0x0a;
const QUOTE = 0x22;
const EMPTY = Buffer.alloc(0);

/**
 * Cuts a byte stream (one log file, read in chunks) into whole records. A trailing partial record is kept until the
 * rest arrives: the server may be in the middle of writing it. jsonlog records end at every newline (JSON escapes
 * newlines); csvlog records end at a newline outside quotes (a quoted field can span lines). A record longer than
 * `maxRecordBytes` is skipped to its end and reported with its head, so one giant statement cannot exhaust memory.
 *
 * A csvlog record cut short (the server crashed mid-write, a file was truncated and written again) leaves a quote
 * open: from there every newline between records would look quoted and the rest of the file one record. At each
 * newline inside quotes the splitter checks whether the next line starts a record ({@link CSV_RECORD_START}, which
 * no quoted text can contain); if so the open record ends there, marked `broken`, and reading goes on in step.
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
  /** The first bytes of the record being skipped. */
  private skippingHead = '';
  /** csvlog: the record ending at the newline {@link csvEnd} returned was cut short (a resynchronisation). */
  private broken = false;
  /** csvlog: {@link csvEnd} stopped at a quoted newline whose next line is not complete yet: scan again from there. */
  private waitFrom = -1;

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
    let invalidUtf8Bytes = 0;
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let start = 0;
    let pos = this.scanned;
    const csv = this.format === 'csvlog';
    for (;;) {
      this.waitFrom = -1;
      const end = csv ? this.csvEnd(buf, pos) : buf.indexOf(NL, pos);
      if (end < 0) break;
      const next = end + 1;
      const broken = this.broken;
      this.broken = false;
      if (this.skippingFrom !== undefined) {
        const from = this.skippingFrom;
        records.push({
          format: this.format,
          file: this.file,
          offset: from,
          bytes: this.pendingOffset + next - from,
          text: this.skippingHead,
          oversized: true,
        });
        this.skippingFrom = undefined;
        this.skippingHead = '';
      } else if (end - start > this.maxRecordBytes) {
        // Whole within one chunk but over the limit all the same: the same treatment as one that outgrew it.
        records.push({
          format: this.format,
          file: this.file,
          offset: this.pendingOffset + start,
          bytes: next - start,
          text: buf.toString('utf8', start, Math.min(end, start + OVERSIZED_HEAD_BYTES)),
          oversized: true,
        });
      } else if (end > start) {
        // Its own string, not a slice of a chunk-wide one: V8 keeps a substring (and what JSON.parse reads out
        // of it) as a view of its parent, so an id kept in a cache would pin the whole chunk.
        const text = buf.toString('utf8', start, end);
        // The decoder turns each invalid byte into U+FFFD; looking for one in an ASCII record costs nothing (a
        // one-byte string cannot hold it), so bytes are counted only for the rare record that has one.
        if (text.indexOf('\uFFFD') >= 0 && !isUtf8(buf.subarray(start, end))) {
          invalidUtf8Bytes += invalidBytes(buf, start, end);
        }
        const record: RawRecord = {
          format: this.format,
          text,
          file: this.file,
          offset: this.pendingOffset + start,
          bytes: next - start,
        };
        if (broken) record.broken = true;
        records.push(record);
      }
      start = next;
      pos = next;
    }
    // Keep the unfinished record; rebase offsets onto it.
    this.pendingOffset += start;
    const resume = this.waitFrom >= 0 ? this.waitFrom - start : -1;
    buf = start === 0 ? buf : buf.subarray(start);
    this.scanned = resume >= 0 ? resume : buf.length;
    if (buf.length > this.maxRecordBytes) {
      // Drop what we hold but remember where the record began and its head; keep the csv quote state.
      if (this.skippingFrom === undefined) {
        this.skippingFrom = this.pendingOffset;
        this.skippingHead = buf.toString('utf8', 0, Math.min(buf.length, OVERSIZED_HEAD_BYTES));
      }
      const keep = resume >= 0 ? buf.length - resume : 0;
      this.pendingOffset += buf.length - keep;
      buf = keep > 0 ? buf.subarray(buf.length - keep) : EMPTY;
      this.scanned = 0;
    }
    // Copy a small remainder out of a large chunk so the chunk's memory can be released.
    this.pending = buf.length > 0 && buf.length < chunk.length / 4 ? Buffer.from(buf) : buf;
    return { records, invalidUtf8Bytes };
  }

  /**
   * csvlog: index of the newline ending the record scanned from `pos`, or -1 (state kept in `quoted`). The next
   * newline is searched again only once passed, not once per quote. A newline inside quotes followed by a line that
   * starts a record ends the record there as `broken` (see the class comment).
   */
  private csvEnd(buf: Buffer, pos: number): number {
    let p = pos;
    let nl = -1;
    for (;;) {
      if (nl < p) nl = buf.indexOf(NL, p);
      const q = buf.indexOf(QUOTE, p);
      if (this.quoted) {
        if (nl >= 0 && (q < 0 || nl < q)) {
          const verdict = startsCsvRecord(buf, nl + 1);
          if (verdict === -1) {
            this.waitFrom = nl;
            return -1;
          }
          if (verdict === 1) {
            this.quoted = false;
            this.broken = true;
            return nl;
          }
          p = nl + 1;
          continue;
        }
        if (q < 0) return -1;
        // A doubled quote inside a quoted field toggles twice: same result as reading them one by one.
        this.quoted = false;
        p = q + 1;
        continue;
      }
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

/** Bytes of `buf[start, end)` that are not part of a valid UTF-8 sequence (what the decoder replaces by U+FFFD). */
function invalidBytes(buf: Buffer, start: number, end: number): number {
  let bad = 0;
  let i = start;
  while (i < end) {
    const c = buf[i] as number;
    const len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > end || !isUtf8(buf.subarray(i, i + len))) {
      bad += 1;
      i += 1;
    } else {
      i += len;
    }
  }
  return bad;
}
