import { lexSql, type LexedSql, type Span, type SpanKind } from './sql-lexer.js';

/** A statement with its literals taken out, in the two forms the analyzer needs. */
export interface Redaction {
  /**
   * Every literal replaced by `$n` (numbered after the highest `$n` already in the text), comments removed, no
   * leading/trailing whitespace or trailing `;`. The only statement text that leaves a collector.
   */
  redacted: string;
  /**
   * The same text with each literal replaced by a fixed literal of its own type (`'x'`, `1`, `1.0`, `B'1'`, `X'1'`).
   * Statements that differ only in literal values have the same shape: it is the analysis cache key, and it still
   * parses, so it is also what gets fingerprinted.
   */
  shape: string;
  /** Number of literals replaced. */
  literalCount: number;
}

const SHAPE_LITERAL: Record<Exclude<SpanKind, 'comment' | 'param'>, string> = {
  string: "'x'",
  bits: "B'1'",
  hex: "X'1'",
  integer: '1',
  float: '1.0',
};

function isSpaceChar(ch: string | undefined): boolean {
  return ch === undefined || ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

/** Drops leading whitespace and trailing whitespace and semicolons (`COPY … TO stdout;` as pg_dump sends it). */
function tidy(text: string): string {
  let end = text.length;
  for (;;) {
    while (end > 0 && isSpaceChar(text[end - 1])) end--;
    if (end > 0 && text[end - 1] === ';') end--;
    else break;
  }
  let start = 0;
  while (start < end && isSpaceChar(text[start])) start++;
  return text.slice(start, end);
}

/**
 * The statement's spans as the server reads it: a `\'` means a quote inside a string under
 * `standard_conforming_strings = off` and a string's end followed by a quote under `on`, and the log does not say
 * which was in force. Both readings are made and every character either calls part of a literal is hidden (the
 * union of their spans, as strings): `'it\'s jean@exemple.fr'` or `'C:\' … '…'`, nothing leaks either way.
 */
function lexBothWays(sql: string): LexedSql {
  const on = lexSql(sql);
  if (!sql.includes("\\'")) return on;
  const off = lexSql(sql, true);
  const cut = [...on.spans, ...off.spans].filter((x) => x.kind !== 'param').sort((x, y) => x.start - y.start);
  const merged: Span[] = [];
  for (const span of cut) {
    const last = merged[merged.length - 1];
    if (last !== undefined && span.start < last.end) {
      if (span.end > last.end) last.end = span.end;
      last.kind = last.kind === span.kind && last.start === span.start && last.end === span.end ? last.kind : 'string';
    } else {
      merged.push({ ...span });
    }
  }
  // A span both readings agree on keeps its kind (a number, a comment); any other merged span is a string.
  const agreed = new Set(on.spans.map((x) => `${x.kind}@${x.start}-${x.end}`));
  for (const m of merged) if (!agreed.has(`${m.kind}@${m.start}-${m.end}`)) m.kind = 'string';
  const params = on.spans.filter(
    (p) => p.kind === 'param' && !merged.some((m) => p.start >= m.start && p.start < m.end),
  );
  const spans = [...merged, ...params].sort((x, y) => x.start - y.start);
  return { spans, maxParam: on.maxParam };
}

/**
 * Redacts a statement with the SQL lexer: literals out, comments out (free text can hold personal data too), bound
 * parameters kept. Works on any text, parseable or not. Never throws unless the lexer has a bug; the analyzer then
 * falls back to {@link redactByPattern}.
 */
export function redactSql(sql: string): Redaction {
  const { spans, maxParam } = lexBothWays(sql);
  let redacted = '';
  let shape = '';
  let at = 0;
  let next = maxParam + 1;
  let literalCount = 0;
  for (const span of spans) {
    if (span.kind === 'param') continue;
    const between = sql.slice(at, span.start);
    redacted += between;
    shape += between;
    at = span.end;
    if (span.kind === 'comment') {
      // A comment separates tokens: keep one space unless whitespace is already there.
      if (!isSpaceChar(redacted[redacted.length - 1]) && !isSpaceChar(sql[span.end])) {
        redacted += ' ';
        shape += ' ';
      }
      continue;
    }
    redacted += `$${next++}`;
    shape += SHAPE_LITERAL[span.kind];
    literalCount++;
  }
  const rest = sql.slice(at);
  return { redacted: tidy(redacted + rest), shape: tidy(shape + rest), literalCount };
}

// Quoted strings (backslash treated as an escape, which can only make a literal longer), dollar-quoted bodies,
// quoted identifiers, comments and numbers not glued to an identifier, with whatever letters follow them (0x…,
// 1e5, 123abc); anything unterminated runs to the end.
const FALLBACK_PATTERN =
  /--[^\n\r]*|\/\*[\s\S]*?(?:\*\/|$)|\$([A-Za-z_][A-Za-z_0-9]*)?\$[\s\S]*?(?:\$\1\$|$)|(?:\b[eEbBxX]|\b[uU]&)?'(?:[^'\\]|''|\\[\s\S])*(?:'|$)|"(?:[^"]|"")*(?:"|$)|(?<![A-Za-z_0-9$])\.?\d(?:[eE][+-]|[\w.])*/g;

/** Words the last-resort redactor keeps: enough keywords to tell what a statement was, nothing a value could be. */
const FALLBACK_KEYWORDS = new Set(
  (
    'select from where and or not in is null insert into values update set delete copy to stdout stdin with as ' +
    'join left right inner outer on limit offset order by group having union all distinct case when then else ' +
    'end begin commit rollback like ilike between exists program create alter drop table role password grant ' +
    'revoke execute prepare do lock share mode access exclusive fetch declare cursor for start transaction'
  ).split(' '),
);

/**
 * Last-resort redactor, only used if {@link redactSql} ever throws: a single regular expression that replaces
 * quoted strings, dollar-quoted bodies, quoted identifiers and digit runs with `$n` and drops comments, then every
 * word that is not a common keyword (a value typed without quotes looks like any other word). Much coarser than the
 * lexer, but never leaves a literal behind.
 */
export function redactByPattern(sql: string): string {
  let next = 1;
  for (const m of sql.matchAll(/\$(\d+)/g)) next = Math.max(next, Number(m[1]) + 1);
  // `\'` makes where strings end depend on standard_conforming_strings: everything after the first quote goes.
  const quote = sql.includes("\\'") ? sql.indexOf("'") : -1;
  const text = quote < 0 ? sql : `${sql.slice(0, quote)}'`;
  const literalsOut = text.replace(FALLBACK_PATTERN, (match: string) =>
    match.startsWith('--') || match.startsWith('/*') ? ' ' : `$${next++}`,
  );
  return tidy(
    literalsOut.replace(
      /(?<![$\w])[^\s\d$().,;:*=<>!+\-/|&^%~@#[\]{}'"\\][^\s$().,;:*=<>!+\-/|&^%~@#[\]{}'"\\]*/g,
      (w) => (FALLBACK_KEYWORDS.has(w.toLowerCase()) ? w : `$${next++}`),
    ),
  );
}
