import { describe, expect, it } from 'vitest';
import type { LogRecord, RawRecord } from './log-record.js';
import type { AuditLine } from './parse-audit.js';
import { StatementMerger, type PendingStatement } from './statement-merger.js';

let offset = 0;

/** One pgaudit line of `session`'s statement `id`, at the next offset of file f. */
function line(merger: StatementMerger, session: string, id: number, t = 0): PendingStatement | undefined {
  const r: LogRecord = {
    ts: '2026-12-06T00:00:00.000Z',
    pid: 1,
    sessionId: session,
    lineNum: id,
    severity: 'LOG',
    message: '',
  };
  const raw: RawRecord = { format: 'jsonlog', text: '', file: 'f', offset: (offset += 100), bytes: 100 };
  const audit: AuditLine = {
    auditType: 'SESSION',
    statementId: id,
    substatementId: 1,
    class: 'READ',
    command: 'SELECT',
    objectType: '',
    objectName: '',
    statement: 'SELECT 1',
    parameters: [],
    parametersLogged: false,
  };
  return merger.add(merger.open(session), r, raw, audit, t);
}

describe('StatementMerger', () => {
  it('the oldest pending statement is the first opened of those still open, across sessions', () => {
    offset = 0;
    const m = new StatementMerger();
    line(m, 'a', 1);
    line(m, 'b', 1);
    line(m, 'c', 1);
    expect(m.oldest()).toEqual({ file: 'f', offset: 100 });
    expect(line(m, 'a', 2)?.record.sessionId).toBe('a'); // a's first statement closes
    expect(m.oldest()).toEqual({ file: 'f', offset: 200 });
    m.close(m.open('b')!);
    expect([m.open('b'), m.oldest()]).toEqual([undefined, { file: 'f', offset: 300 }]);
  });

  it('closeIdle closes, oldest first, only the statements idle since the limit; all without one', () => {
    offset = 0;
    const m = new StatementMerger();
    line(m, 'a', 1, 10);
    line(m, 'b', 1, 50);
    line(m, 'c', 1, 20);
    expect(m.closeIdle(30).map((p) => p.record.sessionId)).toEqual(['a', 'c']);
    expect([m.open('a'), m.open('c'), m.oldest()]).toEqual([undefined, undefined, { file: 'f', offset: 200 }]);
    line(m, 'a', 2, 60);
    expect(m.closeIdle().map((p) => p.record.sessionId)).toEqual(['b', 'a']);
    expect(m.oldest()).toBeUndefined();
  });

  it('a session left open keeps its place while thousands of others open and close', () => {
    offset = 0;
    const m = new StatementMerger();
    line(m, 'idle', 1);
    for (let i = 1; i <= 5000; i += 1) line(m, `s${i % 7}`, i);
    expect(m.oldest()).toEqual({ file: 'f', offset: 100 });
    expect(m.open('idle')?.line.statementId).toBe(1);
    m.close(m.open('idle')!);
    // The seven other sessions each have their last statement open: the oldest of them is statement 4994's.
    expect(m.oldest()).toEqual({ file: 'f', offset: 100 * 4995 });
    expect(m.closeIdle().map((p) => p.line.statementId)).toEqual([4994, 4995, 4996, 4997, 4998, 4999, 5000]);
  });
});
