import { open } from 'node:fs/promises';
import type { DeadLetter } from '@vigie/contract';
import { createLogParser, type LogParserOptions, type ParserOutput } from './log-parser.js';
import { formatOfPath, type LogFormat, type RawRecord } from './log-record.js';
import { RecordSplitter, type OversizedRecord } from './record-splitter.js';

/** Options of {@link readLogRecords}. */
export interface ReadLogOptions {
  /** Format; by default from the extension (`.csv` → csvlog, else jsonlog). */
  format?: LogFormat;
  /** Byte offset to start at (a record boundary). */
  fromOffset?: number;
  chunkBytes?: number;
  maxRecordBytes?: number;
}

/**
 * Yields the records of one whole log file in order (oversized ones as their head, `oversized: true`). For replays and
 * benchmarks; the live collector tails files with its own reader. A trailing record without its newline (a file
 * still being written) is yielded too: at the end of a finished file it is complete.
 */
export async function* readLogRecords(
  path: string,
  { format = formatOfPath(path), fromOffset = 0, chunkBytes = 1 << 20, maxRecordBytes }: ReadLogOptions = {},
): AsyncGenerator<RawRecord> {
  const fh = await open(path, 'r');
  try {
    const splitter = new RecordSplitter(format, path, fromOffset, maxRecordBytes);
    let position = fromOffset;
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await fh.read(buf, 0, chunkBytes, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      yield* splitter.push(buf.subarray(0, bytesRead)).records;
    }
    // A last record without a newline: complete the line so the splitter hands it out.
    if (splitter.pendingBytes > 0) {
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

/**
 * Parses whole log files into events and dead letters, in order, without Kafka: what `vigie replay` runs. Files
 * are read one after the other with one parser, so a statement or a SET ROLE spanning a rotation is handled as
 * live. Pass files in the order the server wrote them.
 */
export async function* parseLogFiles(
  paths: readonly string[],
  options: LogParserOptions & { maxRecordBytes?: number },
): AsyncGenerator<ParserOutput> {
  const parser = createLogParser(options);
  for (const path of paths) {
    for await (const item of readLogRecords(
      path,
      options.maxRecordBytes === undefined ? {} : { maxRecordBytes: options.maxRecordBytes },
    )) {
      yield* parser.push(item);
    }
  }
  yield* parser.flush(0);
}
