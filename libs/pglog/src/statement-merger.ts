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
  // Insertion order = age: the first entry is the oldest statement still being merged.
  private readonly pending = new Map<string, PendingStatement>();

  /** The session's statement still being merged, if any. */
  open(sessionId: string): PendingStatement | undefined {
    return this.pending.get(sessionId);
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
    if (open !== undefined) this.pending.delete(open.record.sessionId);
    this.pending.set(r.sessionId, {
      record: r,
      file: raw.file,
      offset: raw.offset,
      line,
      session: line.auditType === 'SESSION',
      object: line.auditType === 'OBJECT',
      objects: line.objectName === '' ? [] : [{ type: line.objectType, name: line.objectName }],
      seenAt: t,
    });
    return open;
  }

  /** Closes a statement (the session moved on): it is no longer pending. */
  close(p: PendingStatement): PendingStatement {
    this.pending.delete(p.record.sessionId);
    return p;
  }

  /** Closes and returns, oldest first, the statements whose last line was seen at or before `limit` (all: none given). */
  closeIdle(limit?: number): PendingStatement[] {
    const out: PendingStatement[] = [];
    for (const p of [...this.pending.values()]) if (limit === undefined || p.seenAt <= limit) out.push(this.close(p));
    return out;
  }

  /** Position of the first record of the oldest statement still being merged, if any. */
  oldest(): PendingPosition | undefined {
    for (const p of this.pending.values()) return { file: p.file, offset: p.offset };
    return undefined;
  }
}
