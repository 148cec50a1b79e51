import type { VigieEvent } from '@vigie/contract';
import { createSqlAnalyzer } from '@vigie/sql';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogParser, type StatementAnalyzer } from './log-parser.js';
import { RecordSplitter } from './record-splitter.js';

// Real lines from a private PostgreSQL 15 + pgaudit 1.7 with `ALTER ROLE postgres SET log_statement = 'all'`:
// pgaudit logged none of these SETs (it logs a SET after it ran, with the new value in force), log_statement did.
const LINES = [
  `{"timestamp":"2026-12-05 12:33:33.467 UTC","user":"postgres","dbname":"postgres","pid":8559,"remote_host":"127.0.0.1","remote_port":53306,"session_id":"6b14049d.216f","line_num":3,"ps":"idle","session_start":"2026-12-05 12:33:33 UTC","vxid":"3/7","txid":0,"error_severity":"LOG","message":"statement: SET pgaudit.log = 'none'","backend_type":"client backend","query_id":0}`,
  `{"timestamp":"2026-12-05 12:33:33.468 UTC","user":"postgres","dbname":"postgres","pid":8559,"remote_host":"127.0.0.1","remote_port":53306,"session_id":"6b14049d.216f","line_num":4,"ps":"SELECT","session_start":"2026-12-05 12:33:33 UTC","vxid":"3/8","txid":0,"error_severity":"LOG","message":"execute <unnamed>: SELECT set_config($1, $2, false)","detail":"parameters: $1 = 'pgaudit.log', $2 = 'none'","backend_type":"client backend","query_id":0}`,
  `{"timestamp":"2026-12-05 12:33:33.468 UTC","user":"postgres","dbname":"postgres","pid":8559,"remote_host":"127.0.0.1","remote_port":53306,"session_id":"6b14049d.216f","line_num":5,"ps":"idle","session_start":"2026-12-05 12:33:33 UTC","vxid":"3/9","txid":0,"error_severity":"LOG","message":"statement: SELECT 1","backend_type":"client backend","query_id":0}`,
  `{"timestamp":"2026-12-05 12:33:33.468 UTC","user":"postgres","dbname":"postgres","pid":8559,"remote_host":"127.0.0.1","remote_port":53306,"session_id":"6b14049d.216f","line_num":6,"ps":"idle","session_start":"2026-12-05 12:33:33 UTC","vxid":"3/10","txid":0,"error_severity":"LOG","message":"statement: SET log_min_messages = 'panic'","backend_type":"client backend","query_id":0}`,
];

let analyzer: StatementAnalyzer;
beforeAll(async () => {
  analyzer = await createSqlAnalyzer();
});

describe('log_statement lines that change configuration', () => {
  it('become statement.logged events (who, where, which setting; no value), other lines are left to pgaudit', () => {
    const parser = createLogParser({ cluster: 'local', analyzer, redaction: { enabled: true }, now: () => 0 });
    const splitter = new RecordSplitter('jsonlog', 'f', 0);
    const out: VigieEvent[] = [];
    for (const r of splitter.push(Buffer.from(`${LINES.join('\n')}\n`)).records) {
      for (const o of parser.push(r)) if (o.kind !== 'deadletter') out.push(o);
    }
    expect(
      out.map((e) => [e.kind, e.id, e.session?.user, e.session?.clientAddr, e.kind === 'statement.logged' && e.sql]),
    ).toEqual([
      [
        'statement.logged',
        'local:6b14049d.216f:3',
        'postgres',
        '127.0.0.1',
        expect.objectContaining({
          settings: [{ name: 'pgaudit.log', scope: 'session' }],
          redacted: 'SET pgaudit.log = $1',
        }),
      ],
      [
        'statement.logged',
        'local:6b14049d.216f:4',
        'postgres',
        '127.0.0.1',
        // The name is a bound parameter: unknown to the analysis, and its value never leaves the collector.
        expect.objectContaining({ settings: [{ name: '?', scope: 'session' }] }),
      ],
      [
        'statement.logged',
        'local:6b14049d.216f:6',
        'postgres',
        '127.0.0.1',
        expect.objectContaining({ settings: [{ name: 'log_min_messages', scope: 'session' }] }),
      ],
    ]);
    expect(JSON.stringify(out)).not.toContain('none');
  });

  it('is a forged record when it comes from a RAISE (a PL/pgSQL context), never a statement.logged', () => {
    const parser = createLogParser({ cluster: 'local', analyzer, redaction: { enabled: true }, now: () => 0 });
    const splitter = new RecordSplitter('jsonlog', 'f', 0);
    // A line as \`DO $$BEGIN RAISE LOG 'statement: SET pgaudit.log = ''none'''; END$$\` writes it.
    const forged = LINES[0]!.replace(
      '"backend_type"',
      '"context":"PL/pgSQL function inline_code_block line 1 at RAISE","statement":"DO $$BEGIN RAISE LOG \'statement: SET pgaudit.log = \'\'none\'\'\'; END$$","backend_type"',
    );
    const out = splitter.push(Buffer.from(`${forged}\n`)).records.flatMap((r) => parser.push(r));
    expect(out.map((e) => [e.kind, e.kind === 'record.forged' && e.claimed])).toEqual([
      ['record.forged', 'logged-statement'],
    ]);
  });
});
