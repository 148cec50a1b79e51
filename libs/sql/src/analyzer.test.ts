import type { SqlAnalysis } from '@vigie/contract';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSqlAnalyzer, type SqlAnalyzer } from './analyzer.js';
import { VigieSqlError } from './errors.js';

let analyzer: SqlAnalyzer;

beforeAll(async () => {
  analyzer = await createSqlAnalyzer();
});

type Expected = Partial<Omit<SqlAnalysis, 'fingerprint'>>;

const NONE = { reads: [], writes: [], functions: [], dangerousFunctions: [], hasWhere: false, hasLimit: false };

// Statements as pg_dump, psql and operators send them (FIELD-NOTES "Dumps and backups"), with every field asserted.
const CASES: [sql: string, expected: Expected][] = [
  [
    'COPY public.citizens (id, nir, name, email) TO stdout;',
    {
      ...NONE,
      kind: 'copy',
      reads: ['public.citizens'],
      copy: { direction: 'to', target: 'stdout', relation: 'public.citizens', hasQuery: false },
      redacted: 'COPY public.citizens (id, nir, name, email) TO stdout',
    },
  ],
  [
    'COPY  citizens TO STDOUT',
    {
      ...NONE,
      kind: 'copy',
      reads: ['citizens'],
      copy: { direction: 'to', target: 'stdout', relation: 'citizens', hasQuery: false },
      redacted: 'COPY  citizens TO STDOUT',
    },
  ],
  [
    "COPY (SELECT * FROM social.payments WHERE amount > 100) TO '/tmp/x.csv'",
    {
      ...NONE,
      kind: 'copy',
      reads: ['social.payments'],
      hasWhere: true,
      copy: { direction: 'to', target: 'file', hasQuery: true },
      redacted: 'COPY (SELECT * FROM social.payments WHERE amount > $1) TO $2',
    },
  ],
  [
    "COPY citizens TO PROGRAM 'gzip > /tmp/x.gz'",
    {
      ...NONE,
      kind: 'copy',
      reads: ['citizens'],
      copy: { direction: 'to', target: 'program', relation: 'citizens', hasQuery: false },
      redacted: 'COPY citizens TO PROGRAM $1',
    },
  ],
  [
    'COPY t FROM stdin',
    {
      ...NONE,
      kind: 'copy',
      writes: ['t'],
      copy: { direction: 'from', target: 'stdin', relation: 't', hasQuery: false },
      redacted: 'COPY t FROM stdin',
    },
  ],
  [
    "COPY social.payments FROM PROGRAM 'curl -s https://x'",
    {
      ...NONE,
      kind: 'copy',
      writes: ['social.payments'],
      copy: { direction: 'from', target: 'program', relation: 'social.payments', hasQuery: false },
    },
  ],
  [
    'DECLARE _pg_dump_cursor CURSOR FOR SELECT * FROM ONLY public.citizens',
    {
      ...NONE,
      kind: 'declare',
      reads: ['public.citizens'],
      redacted: 'DECLARE _pg_dump_cursor CURSOR FOR SELECT * FROM ONLY public.citizens',
    },
  ],
  ['FETCH 100 FROM _pg_dump_cursor', { ...NONE, kind: 'fetch', redacted: 'FETCH $1 FROM _pg_dump_cursor' }],
  [
    'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    { ...NONE, kind: 'set', redacted: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY' },
  ],
  ["SET TRANSACTION SNAPSHOT '00000003-00000002-1'", { ...NONE, kind: 'set', redacted: 'SET TRANSACTION SNAPSHOT $1' }],
  ['SET extra_float_digits TO 3', { ...NONE, kind: 'set', redacted: 'SET extra_float_digits TO $1' }],
  ['SET row_security = off', { ...NONE, kind: 'set', redacted: 'SET row_security = off' }],
  ['RESET ROLE', { ...NONE, kind: 'reset' }],
  ['SHOW search_path', { ...NONE, kind: 'show' }],
  [
    'LOCK TABLE public.citizens IN ACCESS SHARE MODE',
    { ...NONE, kind: 'lock', redacted: 'LOCK TABLE public.citizens IN ACCESS SHARE MODE' },
  ],
  ['BEGIN', { ...NONE, kind: 'begin' }],
  ['START TRANSACTION READ ONLY', { ...NONE, kind: 'begin' }],
  ['COMMIT', { ...NONE, kind: 'commit' }],
  ['ROLLBACK', { ...NONE, kind: 'rollback' }],
  [
    'SELECT pg_export_snapshot()',
    { ...NONE, kind: 'select', functions: ['pg_export_snapshot'], redacted: 'SELECT pg_export_snapshot()' },
  ],
  [
    'PREPARE q(text) AS SELECT * FROM citizens WHERE nir = $1',
    {
      ...NONE,
      kind: 'prepare',
      reads: ['citizens'],
      hasWhere: true,
      redacted: 'PREPARE q(text) AS SELECT * FROM citizens WHERE nir = $1',
    },
  ],
  ["EXECUTE q('185057512345678')", { ...NONE, kind: 'execute', redacted: 'EXECUTE q($1)' }],
  ['DEALLOCATE q', { ...NONE, kind: 'deallocate' }],
  ['CLOSE _pg_dump_cursor', { ...NONE, kind: 'close' }],
  [
    'SELECT rolname, rolpassword FROM pg_authid',
    { ...NONE, kind: 'select', reads: ['pg_authid'], redacted: 'SELECT rolname, rolpassword FROM pg_authid' },
  ],
  [
    "SELECT pg_read_file('/etc/passwd')",
    {
      ...NONE,
      kind: 'select',
      functions: ['pg_read_file'],
      dangerousFunctions: ['pg_read_file'],
      redacted: 'SELECT pg_read_file($1)',
    },
  ],
  [
    "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)",
    {
      ...NONE,
      kind: 'select',
      functions: ['dblink'],
      dangerousFunctions: ['dblink'],
      redacted: 'SELECT * FROM dblink($1, $2) AS t(a int)',
    },
  ],
  [
    "SELECT public.dblink_exec('srv', 'x'), pg_catalog.lo_get(16400), upper(name) FROM citizens",
    {
      ...NONE,
      kind: 'select',
      reads: ['citizens'],
      functions: ['public.dblink_exec', 'pg_catalog.lo_get', 'upper'],
      dangerousFunctions: ['public.dblink_exec', 'pg_catalog.lo_get'],
    },
  ],
  [
    "SELECT lo_export(16400, '/tmp/x')",
    {
      ...NONE,
      kind: 'select',
      functions: ['lo_export'],
      dangerousFunctions: ['lo_export'],
      redacted: 'SELECT lo_export($1, $2)',
    },
  ],
  [
    'WITH x AS (SELECT * FROM citizens) SELECT * FROM x LIMIT 10',
    {
      ...NONE,
      kind: 'select',
      reads: ['citizens'],
      hasLimit: true,
      redacted: 'WITH x AS (SELECT * FROM citizens) SELECT * FROM x LIMIT $1',
    },
  ],
  // A CTE named like the table it reads hides nothing: inside a non-recursive CTE the name is the table.
  [
    'WITH citizens AS (SELECT * FROM citizens) SELECT * FROM citizens',
    { ...NONE, kind: 'select', reads: ['citizens'] },
  ],
  [
    'WITH a AS (SELECT * FROM t1), b AS (SELECT * FROM a JOIN t2 USING (id)) SELECT * FROM b WHERE (SELECT count(*) FROM a) > 0',
    { ...NONE, kind: 'select', reads: ['t1', 't2'], functions: ['count'], hasWhere: true },
  ],
  [
    'WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r',
    { ...NONE, kind: 'select' },
  ],
  [
    'SELECT * FROM citizens c JOIN social.payments p ON p.citizen_id = c.id WHERE c.id = 42',
    {
      ...NONE,
      kind: 'select',
      reads: ['citizens', 'social.payments'],
      hasWhere: true,
      redacted: 'SELECT * FROM citizens c JOIN social.payments p ON p.citizen_id = c.id WHERE c.id = $1',
    },
  ],
  [
    'SELECT * FROM "Social"."Payments" p, (SELECT id FROM Citizens) s WHERE p.id IN (SELECT id FROM public.case_notes)',
    { ...NONE, kind: 'select', reads: ['social.payments', 'citizens', 'public.case_notes'], hasWhere: true },
  ],
  [
    "UPDATE citizens SET email = 'x@y.fr' WHERE id = 3",
    {
      ...NONE,
      kind: 'update',
      writes: ['citizens'],
      hasWhere: true,
      redacted: 'UPDATE citizens SET email = $1 WHERE id = $2',
    },
  ],
  [
    'UPDATE citizens c SET email = s.email FROM staging s WHERE s.id = c.id',
    { ...NONE, kind: 'update', reads: ['staging'], writes: ['citizens'], hasWhere: true },
  ],
  [
    'DELETE FROM social.case_notes',
    { ...NONE, kind: 'delete', writes: ['social.case_notes'], redacted: 'DELETE FROM social.case_notes' },
  ],
  [
    'WITH gone AS (DELETE FROM social.case_notes RETURNING *) INSERT INTO archive.case_notes SELECT * FROM gone',
    { ...NONE, kind: 'insert', writes: ['social.case_notes', 'archive.case_notes'] },
  ],
  [
    "INSERT INTO exfil SELECT * FROM citizens WHERE region = 'IDF'",
    { ...NONE, kind: 'insert', reads: ['citizens'], writes: ['exfil'], hasWhere: true },
  ],
  [
    "INSERT INTO citizens (nir, email) VALUES ('185057512345678', 'a@b.fr')",
    { ...NONE, kind: 'insert', writes: ['citizens'], redacted: 'INSERT INTO citizens (nir, email) VALUES ($1, $2)' },
  ],
  [
    'MERGE INTO citizens c USING staging s ON s.id = c.id WHEN MATCHED THEN UPDATE SET email = s.email',
    { ...NONE, kind: 'merge', reads: ['staging'], writes: ['citizens'] },
  ],
  [
    'TRUNCATE social.payments',
    { ...NONE, kind: 'truncate', writes: ['social.payments'], redacted: 'TRUNCATE social.payments' },
  ],
  [
    'CREATE TABLE exfil AS SELECT * FROM citizens',
    {
      ...NONE,
      kind: 'create',
      reads: ['citizens'],
      writes: ['exfil'],
      redacted: 'CREATE TABLE exfil AS SELECT * FROM citizens',
    },
  ],
  [
    'SELECT * INTO exfil2 FROM citizens',
    {
      ...NONE,
      kind: 'select',
      reads: ['citizens'],
      writes: ['exfil2'],
      redacted: 'SELECT * INTO exfil2 FROM citizens',
    },
  ],
  ["ALTER ROLE bob PASSWORD 'secret'", { ...NONE, kind: 'alter', redacted: 'ALTER ROLE bob PASSWORD $1' }],
  ["CREATE ROLE x PASSWORD 'pw'", { ...NONE, kind: 'create', redacted: 'CREATE ROLE x PASSWORD $1' }],
  [
    "CREATE TABLE t (id int, nir text DEFAULT '0')",
    { ...NONE, kind: 'create', redacted: 'CREATE TABLE t (id int, nir text DEFAULT $1)' },
  ],
  ['DROP TABLE social.case_notes', { ...NONE, kind: 'drop' }],
  ['GRANT SELECT ON citizens TO bob', { ...NONE, kind: 'grant' }],
  ['REVOKE pg_read_all_data FROM bob', { ...NONE, kind: 'revoke' }],
  ['VACUUM citizens', { ...NONE, kind: 'vacuum' }],
  ['ANALYZE citizens', { ...NONE, kind: 'analyze' }],
  ['LISTEN jobs', { ...NONE, kind: 'listen' }],
  ["NOTIFY jobs, 'payload'", { ...NONE, kind: 'notify', redacted: 'NOTIFY jobs, $1' }],
  [
    'CALL refresh_stats(2024)',
    { ...NONE, kind: 'call', functions: ['refresh_stats'], redacted: 'CALL refresh_stats($1)' },
  ],
  ['DO $$ BEGIN PERFORM 1; END $$', { ...NONE, kind: 'do', redacted: 'DO $1' }],
  [
    "ALTER SYSTEM SET log_statement = 'none'",
    { ...NONE, kind: 'alter', redacted: 'ALTER SYSTEM SET log_statement = $1' },
  ],
  ['CHECKPOINT', { ...NONE, kind: 'checkpoint' }],
  [
    "SELECT * FROM citizens WHERE last_name = 'Éloïse-Ünal'",
    {
      ...NONE,
      kind: 'select',
      reads: ['citizens'],
      hasWhere: true,
      redacted: 'SELECT * FROM citizens WHERE last_name = $1',
    },
  ],
  [
    "SELECT 'it''s', 'two\nlines', E'tab\\there\\n', U&'d\\0061t', $tag$dollar 'quoted'$tag$ FROM t",
    { ...NONE, kind: 'select', reads: ['t'], redacted: 'SELECT $1, $2, $3, $4, $5 FROM t' },
  ],
  [
    "SELECT * FROM t WHERE a = $1 AND b = 'x' -- looking for Jean Dupont\n",
    { ...NONE, kind: 'select', reads: ['t'], hasWhere: true, redacted: 'SELECT * FROM t WHERE a = $1 AND b = $2' },
  ],
  [
    'EXPLAIN ANALYZE SELECT * FROM social.payments WHERE amount > 100 LIMIT 5',
    {
      ...NONE,
      kind: 'explain',
      reads: ['social.payments'],
      hasWhere: true,
      hasLimit: true,
      redacted: 'EXPLAIN ANALYZE SELECT * FROM social.payments WHERE amount > $1 LIMIT $2',
    },
  ],
  ['SELECT * FROM t LIMIT ALL', { ...NONE, kind: 'select', reads: ['t'], redacted: 'SELECT * FROM t LIMIT ALL' }],
  ['SELECT * FROM t ORDER BY 1 FETCH FIRST 5 ROWS ONLY', { ...NONE, kind: 'select', reads: ['t'], hasLimit: true }],
  ['SELECT * FROM t OFFSET 10', { ...NONE, kind: 'select', reads: ['t'] }],
  // A UNION is bounded only when every arm is.
  ['SELECT a FROM t1 WHERE x = 1 UNION SELECT a FROM t2', { ...NONE, kind: 'select', reads: ['t1', 't2'] }],
  [
    '(SELECT a FROM t1 WHERE x = 1 LIMIT 1) UNION ALL (SELECT a FROM t2 WHERE y = 2 LIMIT 1)',
    { ...NONE, kind: 'select', reads: ['t1', 't2'], hasWhere: true, hasLimit: true },
  ],
  [
    'SELECT a FROM t1 UNION SELECT a FROM t2 LIMIT 10',
    { ...NONE, kind: 'select', reads: ['t1', 't2'], hasLimit: true },
  ],
  ['SELECT * FROM t FOR UPDATE OF t', { ...NONE, kind: 'select', reads: ['t'] }],
  [
    "SELECT extract(year FROM born), now() AT TIME ZONE 'utc' FROM citizens",
    { ...NONE, kind: 'select', reads: ['citizens'], functions: ['extract', 'now', 'timezone'] },
  ],
  ['CREATE VIEW v AS SELECT * FROM citizens', { ...NONE, kind: 'create', reads: ['citizens'] }],
  ['REFRESH MATERIALIZED VIEW stats.by_region', { ...NONE, kind: 'refresh', writes: ['stats.by_region'] }],
  // Simple-protocol multi-statement strings: kind of the first, objects of all.
  [
    'SELECT 1; SELECT * FROM b; COPY c TO stdout',
    {
      ...NONE,
      kind: 'select',
      reads: ['b', 'c'],
      copy: { direction: 'to', target: 'stdout', relation: 'c', hasQuery: false },
      redacted: 'SELECT $1; SELECT * FROM b; COPY c TO stdout',
    },
  ],
];

describe('analyze', () => {
  it.each(CASES)('%s', (sql, expected) => {
    const analysis = analyzer.analyze(sql);
    expect(analysis).toMatchObject(expected);
    expect(analysis.parseError).toBeUndefined();
    expect(analysis.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    if (expected.copy === undefined) expect(analysis.copy).toBeUndefined();
  });

  it('gives statements that differ only in literals the same fingerprint and redacted text', () => {
    const a = analyzer.analyze("SELECT * FROM citizens WHERE nir = '185057512345678' LIMIT 1");
    const b = analyzer.analyze("SELECT * FROM citizens WHERE nir = '279126912345621' LIMIT 20");
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.redacted).toBe(a.redacted);
    // FETCH counts and COPY file names are part of libpg-query's own fingerprint; shape fingerprints ignore them.
    expect(analyzer.analyze('FETCH 100 FROM c').fingerprint).toBe(analyzer.analyze('FETCH 5 FROM c').fingerprint);
    expect(analyzer.analyze("COPY t TO '/a'").fingerprint).toBe(analyzer.analyze("COPY t TO '/b'").fingerprint);
  });

  it('gives different shapes different fingerprints', () => {
    expect(analyzer.analyze('SELECT * FROM citizens').fingerprint).not.toBe(
      analyzer.analyze('SELECT * FROM citizens WHERE id = 1').fingerprint,
    );
  });

  it.each([
    [
      "SELECT * FROM citizens WHERE nir = '185057512345678' AND email = 'jean.dupont@example.fr' AND",
      'select',
      'SELECT * FROM $3 WHERE $4 = $1 AND $5 = $2 AND',
      'syntax error at end of input (position 93)',
    ],
    ['<not logged>', 'other', '<not logged>', 'syntax error (position 0)'],
    [
      "COPY public.citizens (id, nir) TO stdout WITH (FORMAT csv, DELIMITER ';'",
      'copy',
      'COPY $2.$3 ($4, $5) TO stdout WITH (FORMAT csv, DELIMITER $1',
      'syntax error at end of input (position 72)',
    ],
    ['\\copy citizens to /tmp/x.csv', 'other', '\\copy $1 to /$2/$3.csv', 'syntax error (position 0)'],
    ['SELECT 185057512345678abc', 'select', 'SELECT $1$2', 'trailing junk after numeric literal (position 7)'],
    // Values without quotes in a statement the server refused: every plain identifier goes, keywords stay.
    [
      'SELECT * FROM citizens WHERE name = Jeanne Martin',
      'select',
      'SELECT * FROM $1 WHERE name = $2 $3',
      'syntax error (position 43)',
    ],
    [
      "UPDATE citizens SET nir = '1' WHRE id = 2",
      'update',
      'UPDATE $3 SET $4 = $1 $5 $6 = $2',
      'syntax error (position 30)',
    ],
  ])('still analyses what the parser refuses: %s', (sql, kind, redacted, parseError) => {
    expect(analyzer.analyze(sql)).toEqual({
      ...NONE,
      kind,
      redacted,
      parseError,
    });
  });

  it.each([
    // Cut short: the literal runs to the end; its shape (`SELECT 'x'`) still parses.
    ["SELECT 'unterminated 185057512345678", { kind: 'select', redacted: 'SELECT $1' }],
    // standard_conforming_strings = off: the server read one string, the default parser fails; the shape is right.
    [
      "SELECT id FROM public.citizens WHERE email = 'it\\'s zoe@exemple.fr' OR phone = '0612345678'",
      {
        kind: 'select',
        reads: ['public.citizens'],
        hasWhere: true,
        // Where the strings end depends on standard_conforming_strings: everything either reading calls a string goes.
        redacted: 'SELECT id FROM public.citizens WHERE email = $1',
      },
    ],
  ] as const)('analyses the shape of a statement the parser refuses for its literals: %s', (sql, want) => {
    const a = analyzer.analyze(sql);
    expect(a).toMatchObject(want);
    expect(a.parseError).toMatch(/^(unterminated quoted string|syntax error) \(position \d+\)$/);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each(['', '   ', ';', ' ; ; ', '-- only a comment', '/* only */'])('calls %j empty', (sql) => {
    expect(analyzer.analyze(sql)).toEqual({ ...NONE, kind: 'empty', redacted: '' });
  });

  it('never throws, whatever it is given', () => {
    const odd = [
      '\u0000',
      '\uFFFF',
      'SELECT \uD800',
      '$',
      '$$',
      "'",
      '"',
      'E',
      "E'",
      'U&',
      '0x',
      '1e',
      '.',
      '..',
      'x'.repeat(100_000),
    ];
    for (const sql of odd) expect(() => analyzer.analyze(sql)).not.toThrow();
    expect(analyzer.analyze(undefined as unknown as string).kind).toBe('other');
  });

  it('returns frozen analyses', () => {
    const analysis = analyzer.analyze('SELECT * FROM citizens');
    expect(Object.isFrozen(analysis)).toBe(true);
    expect(Object.isFrozen(analysis.reads)).toBe(true);
  });

  it('hashes parameters only when given a key', async () => {
    expect(analyzer.hashParameter('185057512345678')).toBeUndefined();
    const keyed = await createSqlAnalyzer({ hmacKey: 'site-secret' });
    const hash = keyed.hashParameter('185057512345678');
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(keyed.hashParameter('185057512345678')).toBe(hash);
    expect(keyed.hashParameter('279126912345621')).not.toBe(hash);
    const other = await createSqlAnalyzer({ hmacKey: 'another-site' });
    expect(other.hashParameter('185057512345678')).not.toBe(hash);
  });

  it('refuses invalid options with a code', async () => {
    await expect(createSqlAnalyzer({ cacheSize: -1 })).rejects.toMatchObject({
      code: 'VIGIE_SQL_CONFIG',
      retriable: false,
    });
    await expect(createSqlAnalyzer({ cacheSize: 1.5 })).rejects.toBeInstanceOf(VigieSqlError);
  });
});
