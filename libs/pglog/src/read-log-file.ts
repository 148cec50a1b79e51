import { open, type FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { DeadLetter } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { createLogParser, type LogParserOptions, type ParserOutput } from './log-parser.js';
import type { LogFormat, RawRecord } from './log-record.js';
import { RecordSplitter, type OversizedRecord } from './record-splitter.js';
import { PGLOG_ERRORS } from './errors.js';

/** Options of {@link readLogRecords}. */
export interface ReadLogOptions {
  /** Format; by default from the name ({@link formatOfLogName}), else from the first byte ({@link formatOfContent}). */
  format?: LogFormat;
  /** Byte offset to start at (a record boundary; plain files only: a gzip stream is read from its start). */
  fromOffset?: number;
  chunkBytes?: number;
  maxRecordBytes?: number;
  /** Told after each chunk read from disk: its size in bytes as stored (compressed for a gzip file). */
  onRead?: (storedBytes: number) => void;
}

const GZIP_READ_BYTES = 64 << 10;

/** The two bytes every gzip member starts with (RFC 1952): files are recognised by them, whatever their name. */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/**
 * The format a log file's name says, once `.gz` and a rotation number are taken off (`postgresql.csv.1.gz` →
 * csvlog); undefined when the name says neither `.csv` nor `.json`.
 */
export function formatOfLogName(path: string): LogFormat | undefined {
  const base = path.replace(/\.gz$/, '').replace(/\.\d+$/, '');
  if (base.endsWith('.csv')) return 'csvlog';
  if (base.endsWith('.json')) return 'jsonlog';
  return undefined;
}

/** The format of a log from its first byte: jsonlog records are objects (`{`), csvlog records start with a date. */
export function formatOfContent(firstByte: number | undefined): LogFormat {
  return firstByte === 0x7b ? 'jsonlog' : 'csvlog';
}

/** Whether a file starts with the gzip magic bytes. */
async function isGzip(fh: FileHandle): Promise<boolean> {
  const head = Buffer.alloc(2);
  const { bytesRead } = await fh.read(head, 0, 2, 0);
  return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/** The chunks of a plain file from `fromOffset`. */
async function* plainChunks(
  fh: FileHandle,
  fromOffset: number,
  chunkBytes: number,
  onRead: ((n: number) => void) | undefined,
): AsyncGenerator<Buffer> {
  for (let position = fromOffset; ;) {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const { bytesRead } = await fh.read(buf, 0, chunkBytes, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    onRead?.(bytesRead);
    yield buf.subarray(0, bytesRead);
  }
}

/**
 * The decompressed chunks of a gzip file (every member, as `gzip -d` does). Corrupt or truncated data stops the read
 * with `VIGIE_PGLOG_GZIP_CORRUPT`, naming the file and the compressed offset zlib had reached.
 */
async function* gunzipChunks(
  path: string,
  fh: FileHandle,
  chunkBytes: number,
  onRead: ((n: number) => void) | undefined,
): AsyncGenerator<Buffer> {
  // Compressed reads of 64 KiB: a corruption is located within a read or two (zlib reports no position itself).
  const raw = fh.createReadStream({ start: 0, highWaterMark: GZIP_READ_BYTES, autoClose: false });
  const gunzip = createGunzip({ chunkSize: chunkBytes });
  let fed = 0;
  raw.on('data', (c: Buffer | string) => {
    fed += c.length;
    onRead?.(c.length);
  });
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException;
    if (e.code === undefined || !e.code.startsWith('Z_')) throw cause;
    // bytesWritten counts the compressed bytes zlib had finished with before the failing write; `fed` those read
    // from disk: the fault lies between the two (a bad checksum is found at the end of its member).
    const at = Math.min(gunzip.bytesWritten, fed);
    throw new VigieError(
      PGLOG_ERRORS.GZIP_CORRUPT,
      `corrupt gzip data in ${path} near compressed byte offset ${at} (between ${at} and ${fed}): ${e.message}`,
      { cause, context: { file: path, offset: at, readTo: fed } },
    );
  } finally {
    raw.unpipe(gunzip);
    raw.destroy();
    gunzip.destroy();
  }
}

/**
 * Yields the records of one whole log file in order (oversized ones as their head, `oversized: true`). For replays and
 * benchmarks; the live collector tails files with its own reader. A trailing record without its newline (a file
 * still being written) is yielded too: at the end of a finished file it is complete. A file starting with the gzip
 * magic bytes is decompressed as it is read (whatever its name); record offsets are then offsets in the
 * decompressed text.
 */
export async function* readLogRecords(
  path: string,
  { format, fromOffset = 0, chunkBytes = 1 << 20, maxRecordBytes, onRead }: ReadLogOptions = {},
): AsyncGenerator<RawRecord> {
  const fh = await open(path, 'r');
  try {
    const gzip = await isGzip(fh);
    if (gzip && fromOffset !== 0) {
      throw new VigieError(PGLOG_ERRORS.GZIP_OFFSET, `${path} is gzip-compressed: it can only be read from its start`);
    }
    const chunks = gzip ? gunzipChunks(path, fh, chunkBytes, onRead) : plainChunks(fh, fromOffset, chunkBytes, onRead);
    let splitter: RecordSplitter | undefined;
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      splitter ??= new RecordSplitter(
        format ?? formatOfLogName(path) ?? formatOfContent(chunk[0]),
        path,
        fromOffset,
        maxRecordBytes,
      );
      yield* splitter.push(chunk).records;
    }
    // A last record without a newline: complete the line so the splitter hands it out.
    if (splitter !== undefined && splitter.pendingBytes > 0) {
      for (const r of splitter.push(Buffer.from('\n')).records) yield { ...r, bytes: r.bytes - 1 };
    }
  } finally {
    await fh.close();
  }
}

/** Whether an item from {@link readLogRecords} is a whole record (rather than the head of an oversized one). */
export function isRawRecord(item: RawRecord): boolean {
  return item.oversized !== true;
}

/** Dead letter for a record skipped because it exceeded the size limit (without a parser: see `pushOversized`). */
export function oversizedDeadLetter(cluster: string, o: OversizedRecord, now = Date.now()): DeadLetter {
  return {
    v: 1,
    id: `${cluster}:deadletter:${o.file}:${o.offset}`,
    kind: 'deadletter',
    cluster,
    ts: new Date(now).toISOString(),
    component: 'collector-pglog',
    reason: 'oversized_record',
    detail: `record of ${o.bytes} bytes exceeds the limit`,
    source: { file: o.file, offset: o.offset },
    excerpt: '',
  };
}

/** Options of {@link parseLogFiles}. */
export type ParseLogFilesOptions = LogParserOptions & {
  maxRecordBytes?: number;
  /** Told after each chunk read from disk: the file's index in `paths` and the chunk's size as stored. */
  onRead?: (fileIndex: number, storedBytes: number) => void;
};

/**
 * Parses whole log files into events and dead letters, in order, without Kafka: what `vigie replay` runs. Files
 * are read one after the other with one parser, so a statement or a SET ROLE spanning a rotation is handled as
 * live. Pass files in the order the server wrote them; gzip files are read as they are (see {@link readLogRecords}).
 */
export async function* parseLogFiles(
  paths: readonly string[],
  options: ParseLogFilesOptions,
): AsyncGenerator<ParserOutput> {
  const parser = createLogParser(options);
  for (const [index, path] of paths.entries()) {
    const read: ReadLogOptions = {};
    if (options.maxRecordBytes !== undefined) read.maxRecordBytes = options.maxRecordBytes;
    const { onRead } = options;
    if (onRead !== undefined) read.onRead = (n) => onRead(index, n);
    for await (const item of readLogRecords(path, read)) {
      yield* parser.push(item);
    }
  }
  yield* parser.flush(0);
}
