import { matchesTemplate, templateOf, type StatementTemplate } from '@vigie/sql';
import type {
  AuditObject,
  DeadLetter,
  ForgeryReason,
  RejectReason,
  SessionInfo,
  SqlAnalysis,
  StatementEvent,
  VigieEvent,
} from '@vigie/contract';
import { decodeCsvlog, decodeCsvlogHead } from './format-csvlog.js';
import { decodeJsonlog, decodeJsonlogHead, type DecodeFailure } from './format-jsonlog.js';
import type { LogRecord, RawRecord } from './log-record.js';
import { parseAuditHead, parseAuditPayload, type AuditLine } from './parse-audit.js';
import { errorMessageOf } from './parse-error-message.js';
import { claimOf, forgeryReasons, type RecordClaim } from './parse-origin.js';
import { applyRoleStatement, currentRole, observeTransaction, roleStatementOf } from './parse-role.js';
import { authFailureReason, parseSessionMessage, roleDoesNotExist } from './parse-session.js';
import { cleanApplicationName, excerptOf, redactFreeText } from './redact-text.js';
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
   * A record skipped for its size (`push` hands those here): its dead letter (counted), and — when its head is a
   * pgaudit record — a statement event made from the head, flagged `truncated`, so rules still see the statement.
   */
  pushOversized(o: RawRecord): ParserOutput[];
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

const SESSION_ID = /^[0-9a-f]{1,16}\.[0-9a-f]{1,8}$/;

/** Role tracking moved to parse-role.ts; re-exported for callers of the parser module. */
export { roleChange } from './parse-role.js';

/** One statement text shape seen under a query id, with its analysis (see analyzeStatement). */
interface TemplateEntry {
  /** The text the template was made from (never logged nor sent). */
  text: string;
  template: StatementTemplate;
  analysis: SqlAnalysis;
}

/** pgaudit's marker for a password in CREATE/ALTER ROLE. */
const REDACTED = '<REDACTED>';

/** Most templates remembered per query id (a DO block or function runs several statements under one). */
const TEMPLATES_PER_QUERY_ID = 8;

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

  // Analyses by server query id, each checked against the text before use. The server's query id names the
  // top-level statement, but pgaudit prints it on every line that statement causes: the statements a DO block, a
  // function or a trigger runs share it with the call, so equal query ids do not mean equal statements. A cached
  // analysis is used only for a text with exactly its template (the same text outside literals and comments, see
  // @vigie/sql statement-template.ts): then the parse tree is the same up to constants, so kind, relations,
  // WHERE/LIMIT, COPY, functions and the redacted text are too. Checking the template is native string comparisons
  // and a scan of the literals: it still skips the analyzer's lexer pass over the whole text (~25 µs on a loaded
  // 2-core box, more than JSON.parse of the whole line). The texts held here never leave the process.
  const byQueryId = new Map<string, TemplateEntry[]>();
  let cachedEntries = 0;
  const analyzeStatement = (text: string, r: LogRecord): SqlAnalysis => {
    const qid = r.queryId;
    if (qid === undefined || qid === '0' || text.length < 8 || text.startsWith('<')) return analyze(text);
    let entries = byQueryId.get(qid);
    if (entries !== undefined) {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i] as TemplateEntry;
        if (matchesTemplate(e.template, text)) {
          // Found first next time: swapped with the head (no shifting; a query id has a few templates at most).
          if (i > 0) {
            entries[i] = entries[0] as TemplateEntry;
            entries[0] = e;
          }
          return redact ? e.analysis : { ...e.analysis, redacted: text };
        }
      }
    }
    const a = analyzer.analyze(text);
    // A refused statement is not cached: whether and where it fails can depend on its literals. Nor is a text
    // holding `\'`: the redaction reads it both ways (standard_conforming_strings on and off), the template one.
    // (A text that matches a template made without `\'` shows only that template's fixed text, hides its literals.)
    if (a.parseError !== undefined || text.includes("\\'")) return redact ? a : { ...a, redacted: text };
    if (cachedEntries >= 4096) {
      byQueryId.clear();
      cachedEntries = 0;
      entries = undefined;
    }
    if (entries === undefined) byQueryId.set(qid, (entries = []));
    entries.unshift({ text, template: templateOf(text), analysis: a });
    cachedEntries += 1;
    if (entries.length > TEMPLATES_PER_QUERY_ID) {
      entries.pop();
      cachedEntries -= 1;
    }
    return redact ? a : { ...a, redacted: text };
  };

  function sessionInfo(r: LogRecord, state: SessionState | undefined): SessionInfo {
    const clientAddr = r.remoteHost === '[local]' ? 'local' : r.remoteHost;
    const rawApp = r.applicationName ?? state?.applicationName;
    // One frozen object per session while its fields stay the same, shared by its events: the Kafka sink encodes
    // it once (see sink-kafka.ts), a third of a statement event's JSON.
    const last = state?.info;
    // The name as the client set it is cleaned once per change, not per event.
    const applicationName =
      last !== undefined && state?.infoRawApp === rawApp ? last.applicationName : cleanApplicationName(rawApp);
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
    if (state !== undefined) {
      state.info = info;
      state.infoRawApp = rawApp;
    }
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
    // pgaudit prints `PASSWORD <REDACTED>` in CREATE/ALTER ROLE: a string there keeps the statement parseable.
    const sql = analyzeStatement(text.includes(REDACTED) ? text.replaceAll(REDACTED, "'<REDACTED>'") : text, r);
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
    // The statement's own transaction first: a new vxid ends the previous one (committed, or rolled back after an
    // ERROR), so a SET ROLE it undid is forgotten before this statement is attributed.
    if (state !== undefined) observeTransaction(state, r.vxid, false, true);
    const role = (state === undefined ? undefined : currentRole(state)) ?? r.user;
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
    if (state !== undefined) {
      const st = roleStatementOf(state, p.line.command, text);
      if (st !== undefined) applyRoleStatement(state, st, r.vxid, r.user);
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
      // A login name that is no role is often a password typed into the wrong field: it is not kept anywhere.
      const noSuchRole = roleDoesNotExist(r);
      const who = noSuchRole ? { ...r, user: undefined } : r;
      const e: VigieEvent = {
        ...base(who, noSuchRole ? undefined : state, raw),
        kind: 'auth.failure',
        sqlstate,
        reason: noSuchRole
          ? 'role does not exist'
          : (authFailureReason(r.message) ?? (redact ? redactFreeText(r.message) : r.message)),
      };
      if (!noSuchRole && r.user !== undefined) e.user = r.user;
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
      // A template of a known server message, never user text (RAISE) nor a value the server quoted.
      message: redact ? errorMessageOf(r) : r.message,
    };
    if (r.statement !== undefined) {
      // The failing statement's kind and shape, not its text: a statement the server refused is where values sit
      // unquoted (`WHERE email = jean@exemple.fr`) or in the wrong quotes.
      const a = analyzer.analyze(r.statement);
      e.statementKind = a.kind;
      if (a.fingerprint !== undefined) e.statementFingerprint = a.fingerprint;
      if (!redact) e.statement = r.statement;
    }
    return e;
  }

  /** A record that claims to be pgaudit's or a lifecycle record and is not: reported, never acted upon. */
  function forged(
    r: LogRecord,
    raw: RawRecord,
    state: SessionState,
    claim: RecordClaim,
    reasons: readonly ForgeryReason[],
  ): VigieEvent {
    const e: VigieEvent = {
      ...base(r, state, raw),
      kind: 'record.forged',
      claimed: claim,
      reasons: [...reasons],
      severity: r.severity.slice(0, 16),
    };
    // 00000 is what csvlog prints where jsonlog prints nothing: left out so both formats give the same event.
    if (r.sqlstate !== undefined && r.sqlstate !== '00000') e.sqlstate = r.sqlstate.slice(0, 5);
    if (claim === 'audit') {
      const line = parseAuditPayload(r.message);
      if (!('error' in line)) {
        e.claimedClass = line.class;
        if (/^[A-Z ?]{1,32}$/.test(line.command)) e.claimedCommand = line.command;
      }
    }
    return e;
  }

  /** Dead letter of a record skipped for its size: position, size and a redacted excerpt of its head. */
  function pushOversized(o: RawRecord): ParserOutput[] {
    const out: ParserOutput[] = [deadLetter(o, 'oversized_record', `record of ${o.bytes} bytes exceeds the limit`)];
    const head = o.format === 'jsonlog' ? decodeJsonlogHead(o.text) : decodeCsvlogHead(o.text);
    if (head === undefined || !SESSION_ID.test(head.record.sessionId)) return out;
    const r = head.record;
    if (claimOf(r.message) !== 'audit') return out;
    const raw = o;
    const t = now();
    const state = sessions.touch(r.sessionId, t);
    const open = pending.get(r.sessionId);
    if (open) out.push(emitPending(open));
    // What the head shows of a forgery (a context or statement after the message, a RAISE WARNING's severity).
    const reasons = forgeryReasons(r, 'audit');
    if (reasons.length > 0) {
      out.push(forged(r, raw, state, 'audit', reasons));
      return out;
    }
    const line = parseAuditHead(r.message);
    if (line === undefined) return out;
    // A statement cut at the head: analysed for what it shows, never merged, never changing the session's role.
    const text = line.statement;
    const sql = analyze(text.includes(REDACTED) ? text.replaceAll(REDACTED, "'<REDACTED>'") : text);
    const event: StatementEvent = {
      v: 1,
      id: `${cluster}:${r.sessionId}:${r.lineNum}`,
      cluster,
      ts: r.ts,
      session: sessionInfo(r, state),
      source: { file: o.file, offset: o.offset },
      kind: 'statement',
      audit: {
        auditTypes: [line.auditType],
        statementId: line.statementId,
        substatementId: line.substatementId,
        class: line.class,
        command: line.command,
        objects: line.objectName === '' ? [] : [{ type: line.objectType, name: line.objectName }],
        parameterCount: 0,
      },
      effectiveRole: currentRole(state) ?? r.user,
      queryId: r.queryId !== undefined && r.queryId !== '0' ? r.queryId : undefined,
      txid: r.txid !== undefined && r.txid !== '0' ? r.txid : undefined,
      sql,
      truncated: true,
    };
    out.push(event);
    return out;
  }

  function push(raw: RawRecord): ParserOutput[] {
    if (raw.oversized) return pushOversized(raw);
    if (raw.broken) {
      return [deadLetter(raw, 'broken_record', 'csvlog record cut short: the next record began inside it')];
    }
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
    const claim = claimOf(r.message);
    if (claim !== undefined) {
      // Anyone can write `AUDIT: …` or `connection authorized: …` into the log (RAISE LOG): only a record with the
      // shape the server gives those records is believed.
      const reasons = forgeryReasons(r, claim);
      if (reasons.length > 0) {
        if (open) out.push(emitPending(open));
        observeTransaction(state, r.vxid, r.severity === 'ERROR', false);
        out.push(forged(r, raw, state, claim, reasons));
        onRecord?.('event');
        return out;
      }
    }
    if (claim === 'audit') {
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
    observeTransaction(state, r.vxid, r.severity === 'ERROR', false);
    const event =
      claim === undefined
        ? problem(r, raw, state)
        : claim === 'logged-statement'
          ? loggedStatement(r, raw, state)
          : (lifecycle(r, raw, state) ?? problem(r, raw, state));
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
    pushOversized,
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
