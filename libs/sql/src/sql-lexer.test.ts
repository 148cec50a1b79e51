import { loadModule, scanSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { lexSql, type SpanKind } from './sql-lexer.js';

// Token numbers of PostgreSQL 18's gram.h as libpg-query's scanSync reports them.
const PG_TOKEN_KIND = new Map<number, SpanKind>([
  [260, 'float'], // FCONST
  [261, 'string'], // SCONST (also E'…' and dollar-quoted)
  [262, 'string'], // USCONST (U&'…')
  [263, 'bits'], // BCONST
  [264, 'hex'], // XCONST
  [266, 'integer'], // ICONST
  [267, 'param'], // PARAM
  [275, 'comment'], // SQL_COMMENT
  [276, 'comment'], // C_COMMENT
]);

/** Literal/comment/param spans as PostgreSQL's own scanner sees them, in UTF-8 byte offsets. */
function pgSpans(sql: string): string[] {
  return scanSync(sql)
    .tokens.filter((t) => PG_TOKEN_KIND.has(t.tokenType))
    .map((t) => `${PG_TOKEN_KIND.get(t.tokenType)}@${t.start}-${t.end}`);
}

function ourSpans(sql: string): string[] {
  const bytes = (i: number): number => Buffer.byteLength(sql.slice(0, i), 'utf8');
  return lexSql(sql).spans.map((s) => `${s.kind}@${bytes(s.start)}-${bytes(s.end)}`);
}

// Statements PostgreSQL's scanner accepts, covering every literal form.
const CORPUS = [
  'COPY public.citizens (id, nir, name, email) TO stdout;',
  "COPY (SELECT * FROM social.payments WHERE amount > 100) TO '/tmp/x.csv'",
  "COPY citizens TO PROGRAM 'gzip > /tmp/x.gz'",
  "SET TRANSACTION SNAPSHOT '00000003-00000002-1'",
  "SELECT * FROM citizens WHERE nir = '185057512345678' AND email = 'jean.dupont@example.fr'",
  "SELECT * FROM citizens WHERE last_name = 'Éloïse-Ünal' AND prénom = 'Zoë' LIMIT 5",
  "SELECT 'it''s', 'multi\nline', E'a\\nb\\'c', e'\\\\', U&'d\\0061t', u&'x' UESCAPE '!'",
  "SELECT B'1010', b'1', X'1F', x'ff', N'national', n'x'",
  'SELECT 1, 42, -7, 1.5, .5, 5., 1e10, 1.5E-3, 2e+4, 0x1F, 0o17, 0b101, 1_000_000, 0x_FF',
  'SELECT $1, $12, t.a$b, a$1 FROM t1 WHERE c2 = $3',
  "DO $$ BEGIN PERFORM 1; END $$; DO $body$ SELECT 'x' $body$",
  'SELECT $a$ contains $b$ and $ and $$ $a$, $_1$x$_1$',
  'SELECT 1 -- a comment with 185057512345678\n, 2 /* block /* nested */ still */ , 3',
  "SELECT 'a'\n  'b' AS continued, 'c' 'd'",
  'SELECT "quoted""ident""", U&"uni" FROM "Table" WHERE "col" = 3',
  "SELECT x::varchar(255), interval '1 day', date '2020-01-01', 1::int8, a[1:2]",
  'SELECT 1..10',
  "INSERT INTO t VALUES (1, 'a'), (2, 'b') ON CONFLICT DO NOTHING",
  "SELECT * FROM dblink('host=x password=secret', 'select 1') AS t(a int)",
  "ALTER ROLE bob PASSWORD 'secret' VALID UNTIL '2030-01-01'",
];

describe('lexSql', () => {
  beforeAll(async () => {
    await loadModule();
  });

  it.each(CORPUS)('finds the same literals, comments and parameters as PostgreSQL: %s', (sql) => {
    expect(ourSpans(sql)).toEqual(pgSpans(sql));
  });

  it('reports the highest parameter number', () => {
    expect(lexSql('SELECT $2, $10, $3').maxParam).toBe(10);
    expect(lexSql('SELECT 1').maxParam).toBe(0);
  });

  it.each([
    ["SELECT 'unterminated nir 185057512345678", 'string', 7],
    ["SELECT E'still \\' open", 'string', 7],
    ['SELECT $$ open body', 'string', 7],
    ['SELECT $tag$ open $other$', 'string', 7],
    ['SELECT "open identifier', 'string', 7],
    ['SELECT 1 /* open comment', 'comment', 9],
  ] as const)('runs an unterminated construct to the end of the text: %s', (sql, kind, start) => {
    const last = lexSql(sql).spans.at(-1);
    expect(last).toEqual({ kind, start, end: sql.length });
  });

  it('treats a quoted "identifier" that holds an e-mail or a long number as a string', () => {
    const sql = 'SELECT "col", "t2024" FROM t WHERE email = "jean@exemple.fr" OR nir = U&"185057512345678"';
    expect(lexSql(sql).spans.map((s) => sql.slice(s.start, s.end))).toEqual([
      '"jean@exemple.fr"',
      'U&"185057512345678"',
    ]);
  });

  it('treats a quoted "identifier" holding a space (a name typed with the wrong quotes) as a string', () => {
    const sql = 'SELECT * FROM citizens WHERE name = "Jeanne Martin" OR "last_name" = 1';
    expect(lexSql(sql).spans.map((s) => sql.slice(s.start, s.end))).toEqual(['"Jeanne Martin"', '1']);
  });

  it('treats a bare word shaped like an IBAN as a string, and no other word with digits', () => {
    const sql = 'SELECT * FROM events_20240105 WHERE iban = FR7630006000011234567890189 AND t2024 = x12345y';
    expect(lexSql(sql).spans.map((s) => sql.slice(s.start, s.end))).toEqual(['FR7630006000011234567890189']);
  });

  it('reads a backslash as an escape in every string (standard_conforming_strings = off)', () => {
    // Under `standard_conforming_strings = off` the server reads one string here; reading two would leave the
    // e-mail between them as bare text.
    const sql = "SELECT 'it\\'s jean@exemple.fr', 2";
    expect(lexSql(sql, true).spans.map((s) => sql.slice(s.start, s.end))).toEqual(["'it\\'s jean@exemple.fr'", '2']);
    // With it on (the default), the same text is a string, a word and an unterminated string.
    expect(lexSql(sql).spans.map((s) => sql.slice(s.start, s.end))).toEqual(["'it\\'", "', 2"]);
  });

  it('does not take a prefix letter inside a longer identifier', () => {
    // xe'1' is the identifier xe then a plain string, as in PostgreSQL.
    expect(lexSql("SELECT xe'1'").spans).toEqual([{ kind: 'string', start: 9, end: 12 }]);
  });
});
