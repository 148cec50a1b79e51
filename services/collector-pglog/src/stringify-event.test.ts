import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StatementEvent, VigieEvent } from '@vigie/contract';
import {
  createLogParser,
  RecordSplitter,
  type LogFormat,
  type ParserOutput,
  type StatementAnalyzer,
} from '@vigie/pglog';
import { createSqlAnalyzer } from '@vigie/sql';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringifyEvent } from '@vigie/collector-kit';

// The kit's hand-written JSON checked against JSON.stringify on every event the parser makes of the captured
// fixtures (moved here from the parser's tests when the parser went to @vigie/pglog).
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/pglog/', import.meta.url));
const jsonText = readFileSync(`${FIXTURES}cases.json`);
const csvText = readFileSync(`${FIXTURES}cases.csv`);

let analyzer: StatementAnalyzer;
beforeAll(async () => {
  analyzer = await createSqlAnalyzer({ hmacKey: 'k' });
});

function parse(format: LogFormat, bytes: Buffer): ParserOutput[] {
  const p = createLogParser({ cluster: 'local', analyzer, redaction: { enabled: true }, now: () => 0 });
  const s = new RecordSplitter(format, 'f', 0);
  const out: ParserOutput[] = [];
  for (const r of s.push(bytes).records) out.push(...p.push(r));
  expect(s.pendingBytes).toBe(0);
  out.push(...p.flush(0));
  return out;
}

describe('shared parts of events and their JSON', () => {
  it('stringifyEvent writes exactly JSON.stringify’s text, whether the shared parts are cached or not', () => {
    for (const format of ['jsonlog', 'csvlog'] as const) {
      const events = parse(format, format === 'jsonlog' ? jsonText : csvText).filter(
        (e): e is VigieEvent => e.kind !== 'deadletter',
      );
      expect(events.length).toBeGreaterThan(100);
      for (const e of events) expect(stringifyEvent(e)).toBe(JSON.stringify(e));
      for (const e of events) expect(stringifyEvent(e)).toBe(JSON.stringify(e)); // second pass: cache hits
    }
    // A shared part that is not frozen is never cached: a later change shows.
    const e = parse('jsonlog', jsonText).find((x): x is StatementEvent => x.kind === 'statement')!;
    const open = { ...e, sql: { ...e.sql } };
    expect(stringifyEvent(open)).toBe(JSON.stringify(open));
    open.sql.redacted = 'changed';
    expect(stringifyEvent(open)).toBe(JSON.stringify(open));
  });
});
