import { logTimeToIso, sessionStartToIso, type LogRecord } from './log-record.js';

/** Why a record could not be decoded: a reject reason of the contract plus a detail that quotes no content. */
export interface DecodeFailure {
  reason: 'malformed_json' | 'malformed_csv' | 'missing_field';
  detail: string;
}

const QUERY_ID_KEY = '"query_id":';

/**
 * Reads `query_id` from the raw line: a signed 64-bit integer that JSON.parse would round. It is the last key the
 * server writes, so search from the end; an escaped `\"query_id\":` inside a statement cannot match because the
 * colon there is preceded by a backslash.
 */
export function rawQueryId(line: string): string | undefined {
  const at = line.lastIndexOf(QUERY_ID_KEY);
  if (at < 0) return undefined;
  let end = at + QUERY_ID_KEY.length;
  const start = end;
  if (line.charCodeAt(end) === 45) end += 1;
  while (end < line.length) {
    const c = line.charCodeAt(end);
    if (c < 48 || c > 57) break;
    end += 1;
  }
  return end > start ? line.slice(start, end) : undefined;
}

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Decodes one jsonlog line (PostgreSQL 15+): one JSON object, keys without value omitted. */
export function decodeJsonlog(line: string): LogRecord | DecodeFailure {
  let o: Json;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { reason: 'malformed_json', detail: 'not a JSON object' };
    }
    o = parsed as Json;
  } catch (error) {
    // V8's message names a position, never content beyond one token; keep only the position part.
    const pos = /position (\d+)/.exec((error as Error).message)?.[1];
    return { reason: 'malformed_json', detail: pos ? `invalid JSON at position ${pos}` : 'invalid JSON' };
  }
  const sessionId = str(o['session_id']);
  const lineNum = num(o['line_num']);
  const pid = num(o['pid']);
  const tsText = str(o['timestamp']);
  const ts = tsText === undefined ? undefined : logTimeToIso(tsText);
  const severity = str(o['error_severity']);
  if (sessionId === undefined || lineNum === undefined || pid === undefined || ts === undefined || !severity) {
    const missing = [
      sessionId === undefined && 'session_id',
      lineNum === undefined && 'line_num',
      pid === undefined && 'pid',
      ts === undefined && 'timestamp',
      !severity && 'error_severity',
    ].filter(Boolean);
    return { reason: 'missing_field', detail: `missing or invalid ${missing.join(', ')}` };
  }
  const record: LogRecord = {
    ts,
    pid,
    sessionId,
    lineNum,
    severity,
    message: typeof o['message'] === 'string' ? o['message'] : '',
  };
  const user = str(o['user']);
  if (user !== undefined) record.user = user;
  const db = str(o['dbname']);
  if (db !== undefined) record.database = db;
  const host = str(o['remote_host']);
  if (host !== undefined) record.remoteHost = host;
  const port = num(o['remote_port']);
  if (port !== undefined) record.remotePort = port;
  const ps = str(o['ps']);
  if (ps !== undefined) record.commandTag = ps;
  const start = str(o['session_start']);
  const startIso = start === undefined ? undefined : sessionStartToIso(start);
  if (startIso !== undefined) record.sessionStart = startIso;
  const vxid = str(o['vxid']);
  if (vxid !== undefined) record.vxid = vxid;
  const txid = o['txid'];
  if (typeof txid === 'number' || typeof txid === 'string') record.txid = String(txid);
  const state = str(o['state_code']);
  if (state !== undefined) record.sqlstate = state;
  const detail = str(o['detail']);
  if (detail !== undefined) record.detail = detail;
  const statement = str(o['statement']);
  if (statement !== undefined) record.statement = statement;
  const context = str(o['context']);
  if (context !== undefined) record.context = context;
  const internal = str(o['internal_query']);
  if (internal !== undefined) record.internalQuery = internal;
  const app = str(o['application_name']);
  if (app !== undefined) record.applicationName = app;
  const backend = str(o['backend_type']);
  if (backend !== undefined) record.backendType = backend;
  if (o['query_id'] !== undefined) {
    const qid = rawQueryId(line);
    if (qid !== undefined) record.queryId = qid;
  }
  return record;
}

/**
 * Decodes the head of a jsonlog record too long to read whole (see record-splitter.ts): the keys before `message`
 * (the server writes them first, in a fixed order), the message as far as the head goes, and whether a `context`,
 * `statement` or `internal_query` key follows it within the head. Undefined when the head does not reach `message`.
 */
export function decodeJsonlogHead(head: string): { record: LogRecord; complete: boolean } | undefined {
  const at = head.indexOf(',"message":"');
  if (at < 0) return undefined;
  const decoded = decodeJsonlog(`${head.slice(0, at)}}`);
  if ('reason' in decoded) return undefined;
  const from = at + 12;
  let end = from;
  while (end < head.length) {
    const c = head.charCodeAt(end);
    if (c === 92) end += 2;
    else if (c === 34) break;
    else end += 1;
  }
  const complete = end < head.length;
  let body = head.slice(from, Math.min(end, head.length));
  // A head cut inside an escape (`\u00e`, `\`) cannot be decoded: drop the incomplete escape.
  for (let i = 0; i < 7; i++) {
    try {
      decoded.message = JSON.parse(`"${body}"`) as string;
      break;
    } catch {
      body = body.slice(0, -1);
    }
  }
  if (complete) {
    const rest = head.slice(end);
    if (rest.includes('"context":')) decoded.context = '(in the record)';
    if (rest.includes('"statement":')) decoded.statement = '(in the record)';
    if (rest.includes('"internal_query":')) decoded.internalQuery = '(in the record)';
  }
  return { record: decoded, complete };
}
