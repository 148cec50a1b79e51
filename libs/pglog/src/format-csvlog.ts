import type { DecodeFailure } from './format-jsonlog.js';
import { logTimeToIso, sessionStartToIso, type LogRecord } from './log-record.js';

/**
 * Splits one csvlog record into its fields: quoted fields may hold commas, doubled quotes and newlines. Returns
 * undefined when a quote is left open (the record is not well formed).
 */
export function csvFields(text: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      // Quoted field: find the closing quote, skipping doubled ones.
      let out = '';
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return undefined;
        if (text.charCodeAt(q + 1) === 34) {
          out += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        out += text.slice(from, q);
        i = q + 1;
        break;
      }
      fields.push(out);
      if (i >= n) return fields;
      if (text.charCodeAt(i) !== 44) return undefined;
      i += 1;
    } else {
      const comma = text.indexOf(',', i);
      if (comma < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}

// Column positions of PostgreSQL 13+ csvlog (15 adds leader_pid and query_id at the end).
const C = {
  time: 0,
  user: 1,
  db: 2,
  pid: 3,
  from: 4,
  session: 5,
  line: 6,
  tag: 7,
  start: 8,
  vxid: 9,
  txid: 10,
  severity: 11,
  state: 12,
  message: 13,
  detail: 14,
  internalQuery: 16,
  context: 18,
  query: 19,
  app: 22,
  backend: 23,
  queryId: 25,
} as const;

/** Splits `connection_from` (`host:port`, `[local]`, IPv6 `::1:5432`) at its last colon. */
function splitFrom(from: string): { host?: string; port?: number } {
  if (from === '') return {};
  if (from === '[local]') return { host: from };
  const colon = from.lastIndexOf(':');
  if (colon <= 0) return { host: from };
  const port = Number(from.slice(colon + 1));
  return Number.isInteger(port) ? { host: from.slice(0, colon), port } : { host: from };
}

/** Decodes one csvlog record (26 columns in PostgreSQL 15; 24+ accepted). */
export function decodeCsvlog(text: string): LogRecord | DecodeFailure {
  const f = csvFields(text);
  if (f === undefined) return { reason: 'malformed_csv', detail: 'unbalanced quotes' };
  if (f.length < 24) return { reason: 'malformed_csv', detail: `${f.length} columns, expected 26` };
  const get = (i: number): string | undefined => {
    const v = f[i];
    return v === undefined || v === '' ? undefined : v;
  };
  const ts = logTimeToIso(get(C.time) ?? '');
  const sessionId = get(C.session);
  const lineNum = Number(get(C.line));
  const pid = Number(get(C.pid));
  const severity = get(C.severity);
  if (
    ts === undefined ||
    sessionId === undefined ||
    !Number.isInteger(lineNum) ||
    !Number.isInteger(pid) ||
    !severity
  ) {
    return { reason: 'missing_field', detail: 'missing or invalid log_time, session_id, line number, pid or severity' };
  }
  const record: LogRecord = { ts, pid, sessionId, lineNum, severity, message: f[C.message] ?? '' };
  const user = get(C.user);
  if (user !== undefined) record.user = user;
  const db = get(C.db);
  if (db !== undefined) record.database = db;
  const { host, port } = splitFrom(f[C.from] ?? '');
  if (host !== undefined) record.remoteHost = host;
  if (port !== undefined) record.remotePort = port;
  const tag = get(C.tag);
  if (tag !== undefined) record.commandTag = tag;
  const start = sessionStartToIso(get(C.start) ?? '');
  if (start !== undefined) record.sessionStart = start;
  const vxid = get(C.vxid);
  if (vxid !== undefined) record.vxid = vxid;
  const txid = get(C.txid);
  if (txid !== undefined) record.txid = txid;
  const state = get(C.state);
  if (state !== undefined) record.sqlstate = state;
  const detail = get(C.detail);
  if (detail !== undefined) record.detail = detail;
  const query = get(C.query);
  if (query !== undefined) record.statement = query;
  const context = get(C.context);
  if (context !== undefined) record.context = context;
  const internal = get(C.internalQuery);
  if (internal !== undefined) record.internalQuery = internal;
  const app = get(C.app);
  if (app !== undefined) record.applicationName = app;
  const backend = get(C.backend);
  if (backend !== undefined) record.backendType = backend;
  const qid = get(C.queryId);
  if (qid !== undefined && /^-?\d{1,19}$/.test(qid)) record.queryId = qid;
  return record;
}

/**
 * Decodes the head of a csvlog record too long to read whole (see record-splitter.ts): the leading columns up to
 * the message, the message as far as the head goes, and the context, internal query and query columns when the head
 * reaches them. Undefined when the head does not reach the message.
 */
export function decodeCsvlogHead(head: string): { record: LogRecord; complete: boolean } | undefined {
  const fields: string[] = [];
  let i = 0;
  const n = head.length;
  let complete = true;
  while (i < n && fields.length < 26) {
    if (head.charCodeAt(i) === 34) {
      let out = '';
      let from = i + 1;
      for (;;) {
        const q = head.indexOf('"', from);
        if (q < 0) {
          out += head.slice(from);
          i = n;
          complete = false;
          break;
        }
        if (head.charCodeAt(q + 1) === 34) {
          out += head.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        out += head.slice(from, q);
        i = q + 2; // past the quote and its comma
        break;
      }
      fields.push(out);
    } else {
      const comma = head.indexOf(',', i);
      if (comma < 0) {
        fields.push(head.slice(i));
        i = n;
        complete = false;
      } else {
        fields.push(head.slice(i, comma));
        i = comma + 1;
      }
    }
  }
  if (fields.length <= C.message) return undefined;
  const padded = [...fields, ...Array<string>(26).fill('')].slice(0, 26);
  const decoded = decodeCsvlog(padded.map((f) => `"${f.replace(/"/g, '""')}"`).join(','));
  if ('reason' in decoded) return undefined;
  return { record: decoded, complete: complete && fields.length > C.message + 1 };
}
