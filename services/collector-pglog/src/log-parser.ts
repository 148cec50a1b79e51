import type {
  AuditObject,
  DeadLetter,
  RejectReason,
  SessionInfo,
  SqlAnalysis,
  StatementEvent,
  VigieEvent,
} from '@vigie/contract';
import { decodeCsvlog } from './format-csvlog.js';
import { decodeJsonlog, type DecodeFailure } from './format-jsonlog.js';
import type { LogRecord, RawRecord } from './log-record.js';
import { AUDIT_PREFIX, parseAuditPayload, type AuditLine } from './parse-audit.js';
import { authFailureReason, parseSessionMessage } from './parse-session.js';
import { excerptOf, redactFreeText } from './redact-text.js';
import { SessionTable, type SessionState } from './session-state.js';

/** The part of `@vigie/sql`'s analyzer the parser uses (so tests and replays can pass any implementation). */
export interface StatementAnalyzer {
  analyze(sql: string): SqlAnalysis;
  /** HMAC of a bound parameter value, or undefined when no key is configured. */
  hashParameter(value: string): string | undefined;
}

/** What the parser makes of records: events, and dead letters for records it could not read. */
export type ParserOutput = VigieEvent | DeadLetter;

/** Options of {@link createLogParser}. */
export interface LogParserOptions {
  /** Cluster name: first part of every event id and key. */
  cluster: string;
  analyzer: StatementAnalyzer;
  /** Redaction of literals in statements, messages and excerpts; on unless explicitly turned off. */
  redaction?: { enabled: boolean };
  /** Most sessions remembered (SET ROLE, application name). */
  maxSessions?: number;
  /** Clock for the flush timeout and dead-letter times (tests pass a fake one). */
  now?: () => number;
  /** Counts records per outcome (metrics); called once per record. */
  onRecord?: (outcome: 'event' | 'merged' | 'ignored' | 'rejected', reason?: RejectReason) => void;
  onEvict?: (count: number) => void;
}

/** Where the oldest statement still being merged started (a checkpoint must not pass it). */
export interface PendingPosition {
  file: string;
  offset: number;
}

/** The pure parsing pipeline: records in, events out; no I/O, no Kafka. */
export interface LogParser {
  /**
   * Parses one record. Returns what became complete: usually the record's own event, sometimes the previous
   * statement of its session (merged from several pgaudit lines), or nothing while a statement is being merged.
   */
  push(raw: RawRecord): ParserOutput[];
  /**
   * Emits statements still being merged whose last line is older than `idleMs` (0 = all of them: end of input).
   */
  flush(idleMs?: number): ParserOutput[];
  /** Position of the first record of the oldest statement still being merged, if any. */
  oldestPending(): PendingPosition | undefined;
  /** Sessions currently remembered. */
  readonly sessions: SessionTable;
}

interface PendingStatement {
  record: LogRecord;
  file: string;
  offset: number;
  line: AuditLine;
  // The audit types seen, as two flags: a Set per statement cost 60 ms of 2.4 s on the bench's 500k statements.
  session: boolean;
  object: boolean;
  objects: AuditObject[];
  seenAt: number;
}

/** Analyses cached by query id for one (database, substatement, command), by the first 48 characters of the text. */
interface QueryIdShape {
  database: string;
  substatementId: number;
  command: string;
  byHead: Map<string, SqlAnalysis>;
  /** The entry of `byHead` found last: comparing one head is cheaper than hashing it (9 ms vs 24 ms per 143k). */
  lastHead: string;
  lastAnalysis: SqlAnalysis;
}

const SESSION_ID = /^[0-9a-f]{1,16}\.[0-9a-f]{1,8}$/;
const SET_ROLE = /^\s*SET\s+(?:(?:SESSION|LOCAL)\s+)?ROLE\s+(.+?)\s*;?\s*$/is;
const SET_AUTH = /^\s*SET\s+(?:(?:SESSION|LOCAL)\s+)?SESSION\s+AUTHORIZATION\s+(.+?)\s*;?\s*$/is;
const RESET_ROLE =
  /^\s*(?:RESET\s+(?:ROLE|SESSION\s+AUTHORIZATION|ALL)|DISCARD\s+ALL|SET\s+(?:SESSION\s+)?SESSION\s+AUTHORIZATION\s+DEFAULT)\s*;?\s*$/i;

/** A role name as SQL writes it: `"Quoted"` keeps case, `'literal'` is allowed by SET ROLE, bare names fold to lower. */
function roleName(text: string): string | undefined {
  const t = text.trim();
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) return t.slice(1, -1).replace(/""/g, '"');
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) return t.slice(1, -1).replace(/''/g, "'");
  if (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(t)) return t.toLowerCase();
  return undefined;
}

/** Role in effect after a SET/RESET statement, `null` for "back to the login role", undefined when not a role change. */
export function roleChange(statement: string): string | null | undefined {
  if (RESET_ROLE.test(statement)) return null;
  const m = SET_ROLE.exec(statement) ?? SET_AUTH.exec(statement);
  if (!m || m[1] === undefined) return undefined;
  const name = roleName(m[1]);
  if (name === undefined) return undefined;
  return name.toLowerCase() === 'none' || name.toLowerCase() === 'default' ? null : name;
}

/** Prefix of a `log_statement` line: simple protocol, or the execute step of the extended protocol. */
const LOGGED_STATEMENT = /^(?:statement|execute [^:]{1,64}): /;

/**
 * Creates the parser that turns PostgreSQL log records (jsonlog or csvlog) into Vigie events: pgaudit lines merged
 * into one `statement` per (session, statement id, substatement id), connection lifecycle, authentication
 * failures, replication connections and commands, and client ERRORs. Deterministic: the same records give the same
 * events (ids `<cluster>:<session_id>:<line_num of the first line>`), which is what makes restarts and replays safe.
 */
export function createLogParser({
  cluster,
  analyzer,
  redaction = { enabled: true },
  maxSessions,
  now = Date.now,
  onRecord,
  onEvict,
}: LogParserOptions): LogParser {
  const redact = redaction.enabled;
  const sessions = new SessionTable({
    ...(maxSessions === undefined ? {} : { maxSessions }),
    ...(onEvict ? { onEvict } : {}),
  });
  // Insertion order = age: the first entry is the oldest statement still being merged.
  const pending = new Map<string, PendingStatement>();

  const analyze = (text: string): SqlAnalysis => {
    const a = analyzer.analyze(text);
    return redact ? a : { ...a, redacted: text };
  };

  // Analyses by server query id. The same query_id means the same parse tree up to constants, so kind, relations,
  // WHERE/LIMIT, COPY and functions are the same and the redacted text differs at most in spacing: this skips even
  // the analyzer's lexer pass (~25 µs on a loaded 2-core box, more than JSON.parse of the whole line). pgaudit prints
  // the top-level query id on substatement lines too (EXECUTE and its prepared SELECT share it), so the key also
  // holds the substatement id, the command and the start of the text. query_id hashes relation OIDs, and OIDs repeat
  // across databases: two different statements in two databases can share one, so the database is part of the key.
  // The key (whose text prefix may hold a literal) lives only in this map: it is never logged nor sent.
  const byQueryId = new Map<string, SqlAnalysis>();
  // In front of byQueryId, the same analyses found by the key's parts (query id, then a short list of database,
  // substatement and command, then the text's head) instead of building and hashing a ~100-character key per
  // statement: 210 ms → 80 ms of self time in a profile of the bench's 400k repeated statements. It only holds what
  // byQueryId gave for those parts and is emptied with it, so what it returns is what byQueryId would.
  const front = new Map<string, QueryIdShape[]>();
  let frontSize = 0;
  const analyzeStatement = (text: string, r: LogRecord, line: AuditLine): SqlAnalysis => {
    const qid = r.queryId;
    if (qid === undefined || qid === '0' || text.length < 8 || text.startsWith('<')) return analyze(text);
    const database = r.database ?? '';
    const head = text.slice(0, 48);
    let shapes = front.get(qid);
    let shape: QueryIdShape | undefined;
    if (shapes !== undefined) {
      for (const s of shapes) {
        if (s.substatementId === line.substatementId && s.command === line.command && s.database === database) {
          shape = s;
          break;
        }
      }
    }
    if (shape !== undefined) {
      const hit = head === shape.lastHead ? shape.lastAnalysis : shape.byHead.get(head);
      if (hit !== undefined) {
        shape.lastHead = head;
        shape.lastAnalysis = hit;
        return redact ? hit : { ...hit, redacted: text };
      }
    }
    const key = `${qid}:${database}:${line.substatementId}:${line.command}:${head}`;
    let a = byQueryId.get(key);
    if (a === undefined) {
      a = analyzer.analyze(text);
      if (byQueryId.size >= 4096) {
        byQueryId.clear();
        front.clear();
        frontSize = 0;
      }
      byQueryId.set(key, a);
    }
    // Bounded on its own too: parts that differ can make the same key (a database name holding `:`).
    if (frontSize >= 4096) {
      front.clear();
      frontSize = 0;
    }
    if (frontSize === 0) shapes = shape = undefined;
    if (shapes === undefined) front.set(qid, (shapes = []));
    if (shape === undefined) {
      const { substatementId, command } = line;
      shape = { database, substatementId, command, byHead: new Map(), lastHead: head, lastAnalysis: a };
      shapes.push(shape);
    }
    shape.byHead.set(head, a);
    shape.lastHead = head;
    shape.lastAnalysis = a;
    frontSize += 1;
    return redact ? a : { ...a, redacted: text };
  };

  function sessionInfo(r: LogRecord, state: SessionState | undefined): SessionInfo {
    const clientAddr = r.remoteHost === '[local]' ? 'local' : r.remoteHost;
    const applicationName = r.applicationName ?? state?.applicationName;
    // One frozen object per session while its fields stay the same, shared by its events: the Kafka sink encodes
    // it once (see sink-kafka.ts), a third of a statement event's JSON.
    const last = state?.info;
    if (
      last !== undefined &&
      last.id === r.sessionId &&
      last.pid === r.pid &&
      last.user === r.user &&
      last.database === r.database &&
      last.clientAddr === clientAddr &&
      last.clientPort === r.remotePort &&
      last.applicationName === applicationName &&
      last.backendType === r.backendType &&
      last.startedAt === r.sessionStart
    ) {
      return last;
    }
    // Fixed shape (see the event literal in emit): undefined members are dropped by JSON.stringify.
    const info: SessionInfo = Object.freeze({
      id: r.sessionId,
      pid: r.pid,
      user: r.user,
      database: r.database,
      clientAddr,
      clientPort: r.remotePort,
      applicationName,
      backendType: r.backendType,
      startedAt: r.sessionStart,
    });
    if (state !== undefined) state.info = info;
    return info;
  }

  function base(r: LogRecord, state: SessionState | undefined, raw: { file: string; offset: number }) {
    return {
      v: 1 as const,
      id: `${cluster}:${r.sessionId}:${r.lineNum}`,
      cluster,
      ts: r.ts,
      session: sessionInfo(r, state),
      source: { file: raw.file, offset: raw.offset },
    };
  }

  function deadLetter(raw: RawRecord, reason: RejectReason, detail: string): DeadLetter {
    onRecord?.('rejected', reason);
    return {
      v: 1,
      id: `${cluster}:deadletter:${raw.file}:${raw.offset}`,
      kind: 'deadletter',
      cluster,
      ts: new Date(now()).toISOString(),
      component: 'collector-pglog',
      reason,
      detail,
      source: { file: raw.file, offset: raw.offset },
      excerpt: excerptOf(raw.text, redact),
    };
  }

  function emit(p: PendingStatement): StatementEvent {
    const r = p.record;
    const state = sessions.get(r.sessionId);
    let text = p.line.statement;
    if (text === '<previously logged>' && state?.lastStatement !== undefined) text = state.lastStatement;
    else if (state !== undefined && text !== '<not logged>') state.lastStatement = text;
    const sql = analyzeStatement(text, r, p.line);
    const params = p.line.parameters;
    const audit: StatementEvent['audit'] = {
      // Sorted: OBJECT before SESSION.
      auditTypes: p.object ? (p.session ? ['OBJECT', 'SESSION'] : ['OBJECT']) : ['SESSION'],
      statementId: p.line.statementId,
      substatementId: p.line.substatementId,
      class: p.line.class,
      command: p.line.command,
      objects: p.objects,
      parameterCount: params.length,
    };
    if (params.length > 0) {
      const hashes: string[] = [];
      for (const v of params) {
        const h = analyzer.hashParameter(v);
        if (h !== undefined) hashes.push(h);
      }
      if (hashes.length === params.length) audit.parameterHashes = hashes;
    }
    // pgaudit 1.7 logs COPY with 0 rows whatever was copied: absent is honest, 0 would be a lie.
    if (p.line.rows !== undefined && p.line.command !== 'COPY') audit.rows = p.line.rows;
    // One literal with every key (no spread, no keys added later): measured 3× faster on the hot path than
    // `{ ...base(), … }` followed by conditional assignments (V8 map transitions); absent values are dropped by JSON.
    const role = state?.effectiveRole ?? r.user;
    const event: StatementEvent = {
      v: 1,
      id: `${cluster}:${r.sessionId}:${r.lineNum}`,
      cluster,
      ts: r.ts,
      session: sessionInfo(r, state),
      source: { file: p.file, offset: p.offset },
      kind: 'statement',
      audit,
      effectiveRole: role,
      queryId: r.queryId !== undefined && r.queryId !== '0' ? r.queryId : undefined,
      txid: r.txid !== undefined && r.txid !== '0' ? r.txid : undefined,
      sql,
    };
    // The role changes after the SET ROLE statement itself (which ran as the previous role).
    if (
      state !== undefined &&
      (p.line.command === 'SET' || p.line.command === 'RESET' || p.line.command === 'DISCARD ALL')
    ) {
      const change = roleChange(text);
      if (change !== undefined) state.effectiveRole = change === null || change === r.user ? undefined : change;
    }
    return event;
  }

  function lifecycle(r: LogRecord, raw: RawRecord, state: SessionState): VigieEvent | undefined {
    const msg = parseSessionMessage(r.message);
    if (msg === undefined) return undefined;
    switch (msg.type) {
      case 'received':
        return undefined;
      case 'authorized':
      case 'replication-authorized': {
        if (msg.applicationName !== undefined) state.applicationName = msg.applicationName;
        if (msg.type === 'replication-authorized') {
          return { ...base(r, state, raw), kind: 'replication.connection' };
        }
        const e: VigieEvent = { ...base(r, state, raw), kind: 'session.start' };
        if (msg.ssl !== undefined) e.ssl = msg.ssl;
        return e;
      }
      case 'disconnection': {
        const e: VigieEvent = { ...base(r, state, raw), kind: 'session.end', durationMs: msg.durationMs };
        sessions.end(r.sessionId);
        return e;
      }
      case 'replication-command':
        return {
          ...base(r, state, raw),
          kind: 'replication.command',
          command: msg.command,
          text: redact ? redactFreeText(msg.text) : msg.text,
        };
    }
  }

  /**
   * A `log_statement` line (`statement: …`, `execute <name>: …`) that changes configuration or drops an extension:
   * pgaudit logs a SET after it ran, so `SET pgaudit.log = 'none'` or `SET log_min_messages = panic` hide
   * themselves from pgaudit, not from log_statement, which logs before. Other such lines are left to pgaudit.
   */
  function loggedStatement(r: LogRecord, raw: RawRecord, state: SessionState): VigieEvent | undefined {
    if (r.severity !== 'LOG') return undefined;
    const prefix = LOGGED_STATEMENT.exec(r.message);
    if (prefix === null) return undefined;
    const text = r.message.slice(prefix[0].length);
    const sql = analyzer.analyze(text);
    if (sql.settings === undefined && sql.droppedExtensions === undefined) return undefined;
    return { ...base(r, state, raw), kind: 'statement.logged', sql: redact ? sql : { ...sql, redacted: text } };
  }

  function problem(r: LogRecord, raw: RawRecord, state: SessionState): VigieEvent | undefined {
    const sev = r.severity;
    if (sev !== 'ERROR' && sev !== 'FATAL' && sev !== 'PANIC') return undefined;
    const sqlstate = r.sqlstate ?? 'XX000';
    if (sev === 'FATAL' && (sqlstate === '28P01' || sqlstate === '28000')) {
      const e: VigieEvent = {
        ...base(r, state, raw),
        kind: 'auth.failure',
        sqlstate,
        reason: authFailureReason(r.message) ?? (redact ? redactFreeText(r.message) : r.message),
      };
      if (r.user !== undefined) e.user = r.user;
      if (r.database !== undefined) e.database = r.database;
      return e;
    }
    // Errors of background processes (autovacuum, checkpointer) are not about anyone's access.
    if (r.backendType !== undefined && r.backendType !== 'client backend' && r.backendType !== 'walsender') {
      return undefined;
    }
    const e: VigieEvent = {
      ...base(r, state, raw),
      kind: 'session.error',
      sqlstate,
      message: redact ? redactFreeText(r.message) : r.message,
    };
    if (r.statement !== undefined) e.statement = analyze(r.statement).redacted;
    return e;
  }

  function push(raw: RawRecord): ParserOutput[] {
    const decoded: LogRecord | DecodeFailure =
      raw.format === 'jsonlog' ? decodeJsonlog(raw.text) : decodeCsvlog(raw.text);
    if ('reason' in decoded) return [deadLetter(raw, decoded.reason, decoded.detail)];
    const r = decoded;
    if (!SESSION_ID.test(r.sessionId)) return [deadLetter(raw, 'missing_field', 'session_id is not <hex>.<hex>')];
    const t = now();
    const out: ParserOutput[] = [];
    const open = pending.get(r.sessionId);
    // Server processes (postmaster, checkpointer) never disconnect: remembering them would only fill the table.
    const state = r.user !== undefined || r.remoteHost !== undefined ? sessions.touch(r.sessionId, t) : { seenAt: t };
    if (r.message.startsWith(AUDIT_PREFIX)) {
      const line = parseAuditPayload(r.message);
      if ('error' in line) {
        if (open) out.push(emitPending(open));
        out.push(deadLetter(raw, 'bad_audit_payload', line.error));
        return out;
      }
      // Same statement and substatement ids (integers: compared as numbers, no `${id}/${sub}` key string built).
      if (
        open !== undefined &&
        open.line.statementId === line.statementId &&
        open.line.substatementId === line.substatementId
      ) {
        // Another line of the same statement: another relation, or the OBJECT twin of a SESSION line.
        if (line.auditType === 'SESSION') open.session = true;
        else open.object = true;
        if (
          line.objectName !== '' &&
          !open.objects.some((o) => o.name === line.objectName && o.type === line.objectType)
        ) {
          open.objects.push({ type: line.objectType, name: line.objectName });
        }
        if (line.rows !== undefined && (open.line.rows === undefined || line.rows > open.line.rows))
          open.line.rows = line.rows;
        open.seenAt = t;
        onRecord?.('merged');
        return out;
      }
      if (open) out.push(emitPending(open));
      pending.set(r.sessionId, {
        record: r,
        file: raw.file,
        offset: raw.offset,
        line,
        session: line.auditType === 'SESSION',
        object: line.auditType === 'OBJECT',
        objects: line.objectName === '' ? [] : [{ type: line.objectType, name: line.objectName }],
        seenAt: t,
      });
      onRecord?.('merged');
      return out;
    }
    if (open) out.push(emitPending(open));
    const event = lifecycle(r, raw, state) ?? problem(r, raw, state) ?? loggedStatement(r, raw, state);
    if (event) out.push(event);
    onRecord?.(event ? 'event' : 'ignored');
    return out;
  }

  function emitPending(p: PendingStatement): StatementEvent {
    pending.delete(p.record.sessionId);
    return emit(p);
  }

  return {
    push,
    flush(idleMs = 0) {
      const out: ParserOutput[] = [];
      const limit = now() - idleMs;
      for (const p of [...pending.values()]) if (idleMs === 0 || p.seenAt <= limit) out.push(emitPending(p));
      return out;
    },
    oldestPending() {
      for (const p of pending.values()) return { file: p.file, offset: p.offset };
      return undefined;
    },
    sessions,
  };
}
