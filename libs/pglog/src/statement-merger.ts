import type { AuditObject } from '@vigie/contract';
import type { LogRecord, RawRecord } from './log-record.js';
import type { AuditLine } from './parse-audit.js';

/** A pgaudit statement whose lines are still being merged. */
export interface PendingStatement {
  record: LogRecord;
  file: string;
  offset: number;
  line: AuditLine;
  // The audit types seen, as two flags: a Set per statement cost 60 ms of 2.4 s on the bench's 500k statements.
  session: boolean;
  object: boolean;
  objects: AuditObject[];
  seenAt: number;
  /** Emitted (or being emitted): no longer pending. */
  closed: boolean;
  /** Index in the merger's list of statements in opening order. */
  slot: number;
}

/** Where the oldest statement still being merged started (a checkpoint must not pass it). */
export interface PendingPosition {
  file: string;
  offset: number;
}

/**
 * pgaudit writes a statement as several lines: one per relation it touches, and a SESSION and an OBJECT twin when
 * both audit types match. Lines of one session with the same statement and substatement ids are one statement; the
 * merger holds each session's open statement until a line of another statement (or a flush) closes it.
 */
export class StatementMerger {
  /**
   * Each session's open statement; a closed one leaves `undefined` in its entry rather than deleting it. A delete
   * and a set per statement made V8 rebuild the Map's table every few records, and a rebuilt table that had
   * reached the old generation kept the next one and the records it held alive through young-generation
   * collections (the collector end to end, paused by Kafka's acknowledgements: ~2 MB promoted per collection).
   */
  private readonly bySession = new Map<string, PendingStatement | undefined>();
  /** Statements in the order they were opened; a slot is cleared once its statement closed. */
  private order: (PendingStatement | undefined)[] = [];
  /** No open statement before this slot. */
  private head = 0;
  private openCount = 0;

  /** The session's statement still being merged, if any. */
  open(sessionId: string): PendingStatement | undefined {
    return this.bySession.get(sessionId);
  }

  /**
   * Takes one pgaudit line of a session whose open statement is `open` (from {@link open}): merged into it when it is
   * another line of the same statement, else it opens a new one. Returns the statement it closed, if any.
   */
  add(
    open: PendingStatement | undefined,
    r: LogRecord,
    raw: RawRecord,
    line: AuditLine,
    t: number,
  ): PendingStatement | undefined {
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
      return undefined;
    }
    if (open !== undefined) this.markClosed(open);
    const p: PendingStatement = {
      record: r,
      file: raw.file,
      offset: raw.offset,
      line,
      session: line.auditType === 'SESSION',
      object: line.auditType === 'OBJECT',
      objects: line.objectName === '' ? [] : [{ type: line.objectType, name: line.objectName }],
      seenAt: t,
      closed: false,
      slot: this.order.length,
    };
    this.bySession.set(r.sessionId, p);
    this.order.push(p);
    this.openCount += 1;
    return open;
  }

  /** Closes a statement (the session moved on): it is no longer pending. */
  close(p: PendingStatement): PendingStatement {
    this.markClosed(p);
    if (this.bySession.get(p.record.sessionId) === p) this.bySession.set(p.record.sessionId, undefined);
    // Sessions that ended keep an empty entry: dropped together once they outnumber the open statements.
    if (this.bySession.size > 2 * this.openCount + 1024) {
      for (const [id, q] of this.bySession) if (q === undefined) this.bySession.delete(id);
    }
    return p;
  }

  private markClosed(p: PendingStatement): void {
    if (p.closed) return;
    p.closed = true;
    this.openCount -= 1;
    this.order[p.slot] = undefined;
    while (this.head < this.order.length && this.order[this.head] === undefined) this.head += 1;
    // Cleared slots outnumber the open statements (a session that stays open holds the head): keep the open ones.
    if (this.order.length > 2 * this.openCount + 1024) {
      const open = this.order.filter((q) => q !== undefined);
      open.forEach((q, i) => (q.slot = i));
      this.order = open;
      this.head = 0;
    }
  }

  /** Closes and returns, oldest first, the statements whose last line was seen at or before `limit` (all: none given). */
  closeIdle(limit?: number): PendingStatement[] {
    const out: PendingStatement[] = [];
    for (let i = this.head; i < this.order.length; i += 1) {
      const p = this.order[i];
      if (p !== undefined && (limit === undefined || p.seenAt <= limit)) out.push(p);
    }
    for (const p of out) this.close(p);
    return out;
  }

  /** Position of the first record of the oldest statement still being merged, if any. */
  oldest(): PendingPosition | undefined {
    const p = this.order[this.head];
    return p === undefined ? undefined : { file: p.file, offset: p.offset };
  }
}
