// PostgreSQL's server log as Vigie reads it: records (jsonlog, csvlog) split from bytes, pgaudit and connection lines
// parsed, and events made from them. Pure knowledge of the format: no tailing, no Kafka (collector-pglog does those).
export { decodeCsvlog } from './format-csvlog.js';
export { decodeJsonlog, type DecodeFailure } from './format-jsonlog.js';
export {
  createLogParser,
  roleChange,
  type LogParser,
  type LogParserOptions,
  type ParserOutput,
  type PendingPosition,
  type StatementAnalyzer,
} from './log-parser.js';
export { formatOfPath, unknownZones, type LogFormat, type LogRecord, type RawRecord } from './log-record.js';
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
export { RecordSplitter, type OversizedRecord, type SplitResult } from './record-splitter.js';
export { SessionTable, type SessionState } from './session-state.js';
