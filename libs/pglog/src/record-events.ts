import type { ForgeryReason, VigieEvent } from '@vigie/contract';
import type { StatementAnalyzer } from './analysis-cache.js';
import { eventBase } from './event-base.js';
import type { LogRecord, RawRecord } from './log-record.js';
import { parseAuditPayload } from './parse-audit.js';
import { errorMessageOf } from './parse-error-message.js';
import type { RecordClaim } from './parse-origin.js';
import { authFailureReason, parseSessionMessage, roleDoesNotExist } from './parse-session.js';
import { redactFreeText } from './redact-text.js';
import type { SessionState, SessionTable } from './session-state.js';

/** Prefix of a `log_statement` line: simple protocol, or the execute step of the extended protocol. */
const LOGGED_STATEMENT = /^(?:statement|execute [^:]{1,64}): /;

/** Options of {@link createRecordEvents}. */
export interface RecordEventsOptions {
  cluster: string;
  analyzer: StatementAnalyzer;
  /** Redaction of literals in messages and statements. */
  redact: boolean;
  sessions: SessionTable;
}

/** The events a single log record makes (everything but pgaudit statements, which are merged over several lines). */
export interface RecordEvents {
  /** Connection lifecycle: session start and end, replication connections and their commands. */
  lifecycle(r: LogRecord, raw: RawRecord, state: SessionState): VigieEvent | undefined;
  /** A `log_statement` line that changes configuration or drops an extension (`statement.logged`). */
  loggedStatement(r: LogRecord, raw: RawRecord, state: SessionState): VigieEvent | undefined;
  /** A failed login (`auth.failure`) or a client ERROR/FATAL/PANIC (`session.error`). */
  problem(r: LogRecord, raw: RawRecord, state: SessionState): VigieEvent | undefined;
  /** A record that claims to be pgaudit's or a lifecycle record and is not: reported, never acted upon. */
  forged(
    r: LogRecord,
    raw: RawRecord,
    state: SessionState,
    claim: RecordClaim,
    reasons: readonly ForgeryReason[],
  ): VigieEvent;
}

/** Creates the builders of the events of single records (see {@link RecordEvents}). */
export function createRecordEvents({ cluster, analyzer, redact, sessions }: RecordEventsOptions): RecordEvents {
  const base = (r: LogRecord, state: SessionState | undefined, raw: RawRecord) => eventBase(cluster, r, state, raw);

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

  return { lifecycle, loggedStatement, problem, forged };
}
