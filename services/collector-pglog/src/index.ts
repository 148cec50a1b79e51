export { createCollectorPglog, type CollectorDeps, type CollectorPglog } from './app.js';
export { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
export { CollectorPglogConfig } from './config.js';
export { decodeCsvlog } from './format-csvlog.js';
export { decodeJsonlog } from './format-jsonlog.js';
export {
  createLogParser,
  roleChange,
  type LogParser,
  type LogParserOptions,
  type ParserOutput,
  type PendingPosition,
  type StatementAnalyzer,
} from './log-parser.js';
export { formatOfPath, type LogFormat, type LogRecord, type RawRecord } from './log-record.js';
export { main } from './main.js';
export {
  formatOfContent,
  formatOfLogName,
  isRawRecord,
  oversizedDeadLetter,
  parseLogFiles,
  readLogRecords,
  type ParseLogFilesOptions,
  type ReadLogOptions,
} from './read-log-file.js';
export { RecordSplitter, type OversizedRecord } from './record-splitter.js';
export { LogTailer, type LogPosition } from './source-tail.js';
