import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import type { LogGapEvent } from '@vigie/contract';
import { basename } from 'node:path';
import { RecordSplitter, type LogFormat, type RawRecord, type SplitResult } from '@vigie/pglog';
import { VigieError } from '@vigie/errors';
import { PGLOG_ERRORS } from './errors.js';
import {
  compareLogFiles,
  currentLogFile,
  defaultPattern,
  listLogFiles,
  logDirectoryOf,
  type LogFile,
  type LogLocation,
} from './source-files.js';

/**
 * A log file could not be opened or read (`VIGIE_PGLOG_SOURCE_READ`, retriable): its permissions changed (a
 * superuser can set `log_file_mode = 0600`), it vanished, or the disk failed. `errno` is the system's code.
 */
export class LogSourceError extends VigieError {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(PGLOG_ERRORS.SOURCE_READ, `cannot read log file ${file}${errno ? ` (${errno})` : ''}`, {
      retriable: true,
      cause,
      context: { file, ...(errno && { errno }) },
    });
    this.name = 'LogSourceError';
  }

  /** The system error code (`EACCES`, `ENOENT`…), when there is one. */
  get errno(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** A position in the log: which file (path and identity) and the byte offset of a record boundary in it. */
export interface LogPosition {
  file: string;
  dev: number;
  ino: number;
  offset: number;
}

/**
 * A log file that shrank or vanished before it was read to its end (or, for `missing`, the checkpoint's file is gone
 * at start): the source of a `log.gap` event.
 */
export interface LogGap {
  reason: 'truncated' | 'deleted' | 'missing';
  file: string;
  /** Bytes read (the offset reached). */
  readBytes: number;
  /** Size last seen before it shrank or vanished, when known. */
  knownBytes?: number;
  /** Size now, when the file still exists. */
  sizeNow?: number;
  /** Bytes known written and never read (0 when nothing known was lost). */
  unreadBytes: number;
}

/** The `log.gap` event of a gap, seen now (a gap has no source record: detection time is its time). */
export function logGapEvent(cluster: string, gap: LogGap, now: Date): LogGapEvent {
  return {
    v: 1,
    id: `${cluster}:log-gap:${gap.reason}:${gap.file}:${gap.readBytes}:${gap.sizeNow ?? gap.knownBytes ?? ''}`,
    kind: 'log.gap',
    cluster,
    ts: now.toISOString(),
    source: { file: gap.file, offset: gap.readBytes },
    reason: gap.reason,
    file: gap.file,
    readBytes: gap.readBytes,
    ...(gap.knownBytes !== undefined && { knownBytes: gap.knownBytes }),
    ...(gap.sizeNow !== undefined && { sizeNow: gap.sizeNow }),
    unreadBytes: gap.unreadBytes,
  };
}

const NO_GAPS: readonly LogGap[] = Object.freeze([]);

/** Options of {@link LogTailer}. */
export interface LogTailerOptions extends LogLocation {
  chunkBytes?: number;
  maxRecordBytes?: number;
  onRotate?: (from: string, to: string) => void;
  onTruncate?: (file: string) => void;
  /** A checkpointed file could not be found any more: reading resumes at the next file. */
  onLostFile?: (file: string) => void;
  /** A symbolic link in the log directory (or named by current_logfiles) was refused. */
  onSymlink?: (path: string) => void;
}

/** What one {@link LogTailer.poll} read. */
export interface TailRead {
  records: RawRecord[];
  /** Files found shrunk or gone before they were read to their end, since the last poll (reported once each). */
  gaps: readonly LogGap[];
  /** Bytes of these records that were not valid UTF-8 (replaced by U+FFFD). */
  invalidUtf8Bytes: number;
  /** Nothing new: the caller waits a poll interval. */
  eof: boolean;
}

interface OpenFile {
  path: string;
  name: string;
  dev: number;
  ino: number;
  fh: FileHandle;
  readPos: number;
  size: number;
  splitter: RecordSplitter;
  /** Its unlinking was reported (it is still read to its end through the open descriptor). */
  unlinkReported?: boolean;
}

/**
 * Follows the server's log files with plain reads of fixed-size chunks (no fs.watch: it misses events on some
 * filesystems and says nothing about rotation order). At end of file it checks for truncation (size below the read
 * position: restart at 0) and for a newer file (current_logfiles moved on, or a later file exists): it then reads
 * the old file to its end once more and moves to the next file in order, so nothing written before the rotation is
 * lost and files written while the collector was down are caught up oldest first.
 */
export class LogTailer {
  private cur: OpenFile | undefined;
  private readonly pattern: RegExp;
  private readonly chunkBytes: number;
  private readonly maxReadBytes: number;
  /** Two read buffers, used in turn (see readChunk). */
  private readonly bufs: [Buffer, Buffer];
  private turn = 0;
  /** Size of files newer than the current one, from the last listing (lag). */
  private newerBytes = 0;
  /** Files newer than the current one at the last listing, not opened yet: one that vanishes was never read. */
  private newerSeen: LogFile[] = [];
  /** Gaps found since the last poll. */
  private gaps: LogGap[] = [];

  constructor(private readonly options: LogTailerOptions) {
    this.pattern = options.pattern !== undefined ? new RegExp(options.pattern) : defaultPattern(options.format);
    this.chunkBytes = options.chunkBytes ?? 128 << 10;
    this.maxReadBytes = Math.max(this.chunkBytes, options.maxRecordBytes ?? 32 << 20);
    this.bufs = [Buffer.allocUnsafe(this.chunkBytes), Buffer.allocUnsafe(this.chunkBytes)];
  }

  get format(): LogFormat {
    return this.options.format;
  }

  /** The file being read, or undefined before start / when no log file exists yet. */
  get currentFile(): string | undefined {
    return this.cur?.path;
  }

  /** Position just after the last complete record handed out. */
  position(): LogPosition | undefined {
    const c = this.cur;
    return c && { file: c.path, dev: c.dev, ino: c.ino, offset: c.splitter.offset };
  }

  /** Identity of a file this tailer opened (for checkpoints of positions in it). */
  identityOf(path: string): { dev: number; ino: number } | undefined {
    if (this.cur?.path === path) return { dev: this.cur.dev, ino: this.cur.ino };
    return this.known.get(path);
  }

  private readonly known = new Map<string, { dev: number; ino: number }>();

  /** Bytes written to the log and not read yet (current file and newer ones), as of the last check. */
  lagBytes(): number {
    const c = this.cur;
    return (c ? Math.max(0, c.size - c.readPos) + c.splitter.pendingBytes : 0) + this.newerBytes;
  }

  /**
   * Positions the reader: at a checkpoint (same file identity, same offset; truncated → 0; gone → the next newer
   * file), or without one at the beginning or end of the current file.
   */
  async start(from: LogPosition | undefined, startAt: 'beginning' | 'end' = 'end'): Promise<void> {
    const files = await this.files();
    if (from !== undefined) {
      const same = files.find((f) => f.dev === from.dev && f.ino === from.ino);
      if (same) {
        let offset = from.offset;
        if (same.size < offset) {
          this.options.onTruncate?.(same.path);
          // Shrunk while the collector was stopped: what was written after the checkpoint and cut is unknown.
          this.gaps.push({
            reason: 'truncated',
            file: same.path,
            readBytes: offset,
            sizeNow: same.size,
            unreadBytes: 0,
          });
          offset = 0;
        }
        await this.openFile(same, offset);
        return;
      }
      this.options.onLostFile?.(from.file);
      this.gaps.push({ reason: 'missing', file: from.file, readBytes: from.offset, unreadBytes: 0 });
      const name = basename(from.file);
      const next = files.find((f) => compareLogFiles(f, { name, mtimeMs: Infinity }) > 0);
      if (next) await this.openFile(next, 0);
      return;
    }
    const current = await this.currentFile_(files);
    if (current) await this.openFile(current, startAt === 'end' ? current.size : 0);
  }

  /** Reads what is new: one chunk of records, or `eof`. Moves to the next file when the current one is finished. */
  async poll(): Promise<TailRead> {
    if (this.cur === undefined) {
      await this.start(undefined, 'beginning');
      if (this.cur === undefined) return { records: [], invalidUtf8Bytes: 0, gaps: this.takeGaps(), eof: true };
    }
    const c = this.cur as OpenFile;
    const got = await this.readChunk(c);
    if (got) return { ...got, gaps: this.takeGaps(), eof: false };
    // End of file: truncated? (log_truncate_on_rotation reuses a name and truncates the same inode.)
    const st = await c.fh.stat();
    const knownBytes = c.size;
    c.size = st.size;
    if (st.size < c.readPos) {
      this.options.onTruncate?.(c.path);
      // The server only appends: a file shorter than what was read was cut by someone (or reused by
      // log_truncate_on_rotation). Bytes seen in its size and never read are lost to Vigie.
      this.gaps.push({
        reason: 'truncated',
        file: c.path,
        readBytes: c.readPos,
        knownBytes,
        sizeNow: st.size,
        unreadBytes: Math.max(0, knownBytes - c.readPos),
      });
      c.readPos = 0;
      c.splitter = new RecordSplitter(this.options.format, c.path, 0, this.options.maxRecordBytes);
      return { records: [], invalidUtf8Bytes: 0, gaps: this.takeGaps(), eof: false };
    }
    if (st.nlink === 0 && c.unlinkReported !== true) {
      // Unlinked while open: its contents are still read through the descriptor, but the file is gone from disk.
      c.unlinkReported = true;
      this.gaps.push({ reason: 'deleted', file: c.path, readBytes: c.readPos, knownBytes: st.size, unreadBytes: 0 });
    }
    const next = await this.nextFile(c);
    if (next === undefined) return { records: [], invalidUtf8Bytes: 0, gaps: this.takeGaps(), eof: true };
    // Open the next file before consuming the rest of this one: when it cannot be opened (a superuser set
    // log_file_mode = 0600, the file vanished) this throws with nothing consumed, and the next poll tries again
    // from the same place instead of losing the tail of the old file or reading a closed handle.
    const opened = await this.openHandle(next);
    // The server has moved on: whatever it wrote to the old file before switching is there now; read it all.
    const records: RawRecord[] = [];
    let invalidUtf8Bytes = 0;
    for (let more = await this.readChunk(c); more; more = await this.readChunk(c)) {
      records.push(...more.records);
      invalidUtf8Bytes += more.invalidUtf8Bytes;
    }
    if (c.splitter.pendingBytes > 0) {
      // A record cannot span files: an unterminated last record is complete as it is.
      const tail = c.splitter.push(Buffer.from('\n'));
      for (const r of tail.records) records.push({ ...r, bytes: r.bytes - 1 });
      invalidUtf8Bytes += tail.invalidUtf8Bytes;
    }
    await c.fh.close();
    this.options.onRotate?.(c.path, next.path);
    this.use(next, opened, 0);
    return { records, invalidUtf8Bytes, gaps: this.takeGaps(), eof: false };
  }

  private takeGaps(): readonly LogGap[] {
    if (this.gaps.length === 0) return NO_GAPS;
    const out = this.gaps;
    this.gaps = [];
    return out;
  }

  /** Closes the open file. */
  async close(): Promise<void> {
    await this.cur?.fh.close().catch(() => undefined);
    this.cur = undefined;
  }

  private async readChunk(c: OpenFile): Promise<SplitResult | undefined> {
    // Small chunks by default (all of a chunk's records are alive while it is processed, and with 1 MiB chunks they
    // outlived young-generation collections: 40% more CPU). A record longer than a chunk is joined by the splitter
    // on each read: read as much as it already holds, so a long record costs O(n) copies, not O(n²).
    const pendingBytes = c.splitter.pendingBytes;
    const size = pendingBytes > this.chunkBytes ? Math.min(pendingBytes, this.maxReadBytes) : this.chunkBytes;
    // The splitter keeps at most a view of the last chunk (an unfinished record), until the next push copies it
    // out: the buffer read two chunks ago is free again. A new 128 KiB Buffer per read was external memory held
    // until V8 collected its wrapper (~45 MB of ArrayBuffers at the collector's peak end to end).
    // The turn moves on only when a read brought data (an empty read at the end of the file writes nothing).
    const next = this.turn ^ 1;
    const buf = size === this.chunkBytes ? this.bufs[next]! : Buffer.allocUnsafe(size);
    const { bytesRead } = await c.fh.read(buf, 0, size, c.readPos);
    if (bytesRead === 0) return undefined;
    if (buf === this.bufs[next]) this.turn = next;
    c.readPos += bytesRead;
    if (c.readPos > c.size) c.size = c.readPos;
    const chunk = buf.subarray(0, bytesRead);
    return c.splitter.push(chunk);
  }

  private async files(): Promise<LogFile[]> {
    const dir = await logDirectoryOf(this.options);
    return dir === undefined ? [] : listLogFiles(dir, this.pattern, this.options.onSymlink);
  }

  private async currentFile_(files: LogFile[]): Promise<LogFile | undefined> {
    if (this.options.pgData !== undefined) {
      const path = await currentLogFile(this.options.pgData, this.options.format);
      const f = files.find((x) => x.path === path);
      if (f) return f;
    }
    return files[files.length - 1];
  }

  /** The file after `c` in write order, if the server has started one. */
  private async nextFile(c: OpenFile): Promise<LogFile | undefined> {
    if (this.options.pgData !== undefined) {
      // Cheap test first: current_logfiles still names our file → no rotation (the usual case at EOF).
      const current = await currentLogFile(this.options.pgData, this.options.format);
      // Same path and still the same file (device and inode): no rotation. A path that now names another file was
      // rotated by renaming (logrotate, a fixed log_filename): the new file is next.
      if (current === c.path && (await this.sameFile(c))) {
        this.newerBytes = 0;
        return undefined;
      }
    }
    const files = await this.files();
    const newer = files.filter(
      (f) =>
        !(f.dev === c.dev && f.ino === c.ino) &&
        (f.name === c.name || compareLogFiles(f, { name: c.name, mtimeMs: Infinity }) > 0),
    );
    // A file listed as waiting at the last look and gone now (same identity nowhere) was deleted unread.
    for (const was of this.newerSeen) {
      if (was.dev === c.dev && was.ino === c.ino) continue;
      if (files.some((f) => f.dev === was.dev && f.ino === was.ino)) continue;
      this.gaps.push({ reason: 'deleted', file: was.path, readBytes: 0, knownBytes: was.size, unreadBytes: was.size });
    }
    this.newerSeen = newer;
    this.newerBytes = newer.reduce((sum, f) => sum + f.size, 0);
    return newer[0];
  }

  /** Whether `c.path` still names the file being read (a symbolic link never does). */
  private async sameFile(c: OpenFile): Promise<boolean> {
    try {
      const st = await lstat(c.path);
      return !st.isSymbolicLink() && st.dev === c.dev && st.ino === c.ino;
    } catch {
      return false;
    }
  }

  private async openFile(f: LogFile, offset: number): Promise<void> {
    this.use(f, await this.openHandle(f), offset);
  }

  /** Opens a log file for reading; throws {@link LogSourceError} (retriable) when it cannot be opened. */
  private async openHandle(f: LogFile): Promise<{ fh: FileHandle; dev: number; ino: number; size: number }> {
    let fh: FileHandle;
    try {
      // O_NOFOLLOW: a file replaced by a symbolic link between the listing and here is refused (ELOOP), not followed.
      fh = await open(f.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (cause) {
      throw new LogSourceError(f.path, cause);
    }
    try {
      const st = await fh.stat();
      return { fh, dev: st.dev, ino: st.ino, size: st.size };
    } catch (cause) {
      await fh.close().catch(() => undefined);
      throw new LogSourceError(f.path, cause);
    }
  }

  private use(f: LogFile, h: { fh: FileHandle; dev: number; ino: number; size: number }, offset: number): void {
    this.known.set(f.path, { dev: h.dev, ino: h.ino });
    if (this.known.size > 64) this.known.delete(this.known.keys().next().value as string);
    this.cur = {
      path: f.path,
      name: f.name,
      dev: h.dev,
      ino: h.ino,
      fh: h.fh,
      readPos: offset,
      size: h.size,
      splitter: new RecordSplitter(this.options.format, f.path, offset, this.options.maxRecordBytes),
    };
  }
}
