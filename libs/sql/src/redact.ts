import { lexSql, type SpanKind } from './sql-lexer.js';

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
 * Redacts a statement with the SQL lexer: literals out, comments out (free text can hold personal data too), bound
 * parameters kept. Works on any text, parseable or not. Never throws unless the lexer has a bug; the analyzer then
 * falls back to {@link redactByPattern}.
 */
export function redactSql(sql: string): Redaction {
  const { spans, maxParam } = lexSql(sql);
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

/**
 * Last-resort redactor, only used if {@link redactSql} ever throws: a single regular expression that replaces
 * quoted strings, dollar-quoted bodies, quoted identifiers and digit runs with `$n` and drops comments. Coarser than
 * the lexer (it also hides quoted identifiers) but never leaves a literal behind.
 */
export function redactByPattern(sql: string): string {
  let next = 1;
  for (const m of sql.matchAll(/\$(\d+)/g)) next = Math.max(next, Number(m[1]) + 1);
  return tidy(
    sql.replace(FALLBACK_PATTERN, (match: string) =>
      match.startsWith('--') || match.startsWith('/*') ? ' ' : `$${next++}`,
    ),
  );
}
