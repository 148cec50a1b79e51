import type { DeadLetter, RejectReason, StatementEvent, VigieEvent } from '@vigie/contract';
import { createAnalysisCache, type StatementAnalyzer } from './analysis-cache.js';
import { decodeCsvlog, decodeCsvlogHead } from './format-csvlog.js';
import { decodeJsonlog, decodeJsonlogHead, type DecodeFailure } from './format-jsonlog.js';
import type { LogRecord, RawRecord } from './log-record.js';
import { parseAuditHead, parseAuditPayload } from './parse-audit.js';
import { claimOf, forgeryReasons } from './parse-origin.js';
import { createRecordEvents } from './record-events.js';
import { excerptOf } from './redact-text.js';
import { observeTransaction } from './role-tracker.js';
import { SessionTable } from './session-state.js';
import { createStatementEvents } from './statement-event.js';
import { StatementMerger, type PendingPosition, type PendingStatement } from './statement-merger.js';

export type { StatementAnalyzer } from './analysis-cache.js';
export type { PendingPosition } from './statement-merger.js';

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

const SESSION_ID = /^[0-9a-f]{1,16}\.[0-9a-f]{1,8}$/;

/** Role tracking is parse-role.ts and role-tracker.ts; re-exported for callers of the parser module. */
export { roleChange } from './parse-role.js';

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
  const merger = new StatementMerger();
  const analyses = createAnalysisCache(analyzer, redact);
  const statements = createStatementEvents({ cluster, analyzer, analyses, sessions });
  const events = createRecordEvents({ cluster, analyzer, redact, sessions });

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

  /** The statement a session was merging, closed because the session moved on. */
  const closePending = (p: PendingStatement): StatementEvent => statements.merged(merger.close(p));

  /** Dead letter of a record skipped for its size: position, size and a redacted excerpt of its head. */
  function pushOversized(o: RawRecord): ParserOutput[] {
    const out: ParserOutput[] = [deadLetter(o, 'oversized_record', `record of ${o.bytes} bytes exceeds the limit`)];
    const head = o.format === 'jsonlog' ? decodeJsonlogHead(o.text) : decodeCsvlogHead(o.text);
    if (head === undefined || !SESSION_ID.test(head.record.sessionId)) return out;
    const r = head.record;
    if (claimOf(r.message) !== 'audit') return out;
    const t = now();
    const state = sessions.touch(r.sessionId, t);
    const open = merger.open(r.sessionId);
    if (open) out.push(closePending(open));
    // What the head shows of a forgery (a context or statement after the message, a RAISE WARNING's severity).
    const reasons = forgeryReasons(r, 'audit');
    if (reasons.length > 0) {
      out.push(events.forged(r, o, state, 'audit', reasons));
      return out;
    }
    const line = parseAuditHead(r.message);
    if (line === undefined) return out;
    out.push(statements.truncated(r, o, line, state));
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
    const open = merger.open(r.sessionId);
    // Server processes (postmaster, checkpointer) never disconnect: remembering them would only fill the table.
    const state = r.user !== undefined || r.remoteHost !== undefined ? sessions.touch(r.sessionId, t) : { seenAt: t };
    const claim = claimOf(r.message);
    if (claim !== undefined) {
      // Anyone can write `AUDIT: …` or `connection authorized: …` into the log (RAISE LOG): only a record with the
      // shape the server gives those records is believed.
      const reasons = forgeryReasons(r, claim);
      if (reasons.length > 0) {
        if (open) out.push(closePending(open));
        observeTransaction(state, r.vxid, r.severity === 'ERROR', false);
        out.push(events.forged(r, raw, state, claim, reasons));
        onRecord?.('event');
        return out;
      }
    }
    if (claim === 'audit') {
      const line = parseAuditPayload(r.message);
      if ('error' in line) {
        if (open) out.push(closePending(open));
        out.push(deadLetter(raw, 'bad_audit_payload', line.error));
        return out;
      }
      // Another line of the open statement is merged into it; a line of a new statement closes it.
      const closed = merger.add(open, r, raw, line, t);
      if (closed !== undefined) out.push(statements.merged(closed));
      onRecord?.('merged');
      return out;
    }
    if (open) out.push(closePending(open));
    observeTransaction(state, r.vxid, r.severity === 'ERROR', false);
    const event =
      claim === undefined
        ? events.problem(r, raw, state)
        : claim === 'logged-statement'
          ? events.loggedStatement(r, raw, state)
          : (events.lifecycle(r, raw, state) ?? events.problem(r, raw, state));
    if (event) out.push(event);
    onRecord?.(event ? 'event' : 'ignored');
    return out;
  }

  return {
    push,
    pushOversized,
    flush(idleMs = 0) {
      const idle = merger.closeIdle(idleMs === 0 ? undefined : now() - idleMs);
      return idle.map((p) => statements.merged(p));
    },
    oldestPending: () => merger.oldest(),
    sessions,
  };
}
