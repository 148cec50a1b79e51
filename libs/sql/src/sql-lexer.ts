/**
 * A small SQL lexer that finds what must never leave a collector: literals and comments. It follows PostgreSQL's
 * scanner (scan.l) for everything that decides where a literal starts and ends, and is checked token for token
 * against libpg-query's `scanSync` in sql-lexer.test.ts. It is pure string code: it never throws and needs no
 * WebAssembly, so it also redacts statements the parser refuses.
 *
 * When the text is ambiguous it errs towards hiding more: an unterminated string, dollar-quoted body or quoted
 * identifier runs to the end of the text, and a quoted identifier holding an `@` or six digits in a row is treated
 * as a string. It assumes `standard_conforming_strings = on` (PostgreSQL's default since 9.1) unless told otherwise;
 * redact.ts lexes a text holding `\'` both ways and hides what either reading calls a literal.
 */

/** What a span of statement text is. */
export type SpanKind =
  /** `'…'`, `E'…'`, `U&'…'`, `$tag$…$tag$`, or anything unterminated. */
  | 'string'
  /** `B'…'`. */
  | 'bits'
  /** `X'…'`. */
  | 'hex'
  | 'integer'
  | 'float'
  /** `-- …` or `/* … *\/` (nested). */
  | 'comment'
  /** `$1`: a bound parameter, already a placeholder. */
  | 'param';

/** One literal, comment or parameter: `start` inclusive, `end` exclusive, in UTF-16 code units. */
export interface Span {
  kind: SpanKind;
  start: number;
  end: number;
}

// A double-quoted "identifier" holding an e-mail address or a long number is almost always a string typed with the
// wrong quotes (`WHERE email = "jean@exemple.fr"`, a MySQL habit): the server rejects it and logs the statement.
const DATA_IN_IDENTIFIER = /@|\d{5}|\s/;
// A bare word shaped like an IBAN (two letters, two check digits, 11 to 30 letters and digits; see tokenAt). Not
// "any word with digits": partition and table names (`events_20240105`, `m_y2024m01`) are words with digits too.
const DATA_IN_WORD = /^[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}$/;

/** Every literal, comment and parameter of a statement, in text order, and the highest `$n` already present. */
export interface LexedSql {
  spans: Span[];
  maxParam: number;
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const VT = 0x0b;
const FF = 0x0c;
const CR = 0x0d;
const QUOTE = 0x27; // '
const DQUOTE = 0x22; // "
const DOLLAR = 0x24;
const DASH = 0x2d;
const SLASH = 0x2f;
const STAR = 0x2a;
const DOT = 0x2e;
const BACKSLASH = 0x5c;
const AMP = 0x26;
const UNDERSCORE = 0x5f;

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === LF || c === CR || c === FF || c === VT;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** scan.l `ident_start`: letters, underscore, and every non-ASCII character. */
function isIdentStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === UNDERSCORE || c >= 0x80;
}

/** scan.l `ident_cont`: also digits and `$`. */
function isIdentCont(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === DOLLAR;
}

/** End of a `'…'` body starting after the opening quote; `''` is a quote, `\` escapes only when `backslash`. */
function endOfQuoted(sql: string, from: number, backslash: boolean): number {
  let i = from;
  const n = sql.length;
  for (;;) {
    while (i < n) {
      const c = sql.charCodeAt(i);
      if (c === QUOTE) break;
      i += backslash && c === BACKSLASH ? 2 : 1;
    }
    if (i >= n) return n;
    if (sql.charCodeAt(i + 1) === QUOTE) {
      i += 2;
      continue;
    }
    // scan.l `quotecontinue`: 'a'<whitespace with a newline>'b' is one literal.
    let j = i + 1;
    let newline = false;
    while (j < n && isSpace(sql.charCodeAt(j))) {
      const c = sql.charCodeAt(j);
      if (c === LF || c === CR) newline = true;
      j++;
    }
    if (newline && sql.charCodeAt(j) === QUOTE) {
      i = j + 1;
      continue;
    }
    return i + 1;
  }
}

/** End of `"…"` (with `""`), or `-1` when unterminated. */
function endOfQuotedIdent(sql: string, from: number): number {
  let i = from;
  for (;;) {
    const q = sql.indexOf('"', i);
    if (q < 0) return -1;
    if (sql.charCodeAt(q + 1) === DQUOTE) {
      i = q + 2;
      continue;
    }
    return q + 1;
  }
}

/** Length of a dollar-quote delimiter (`$$`, `$tag$`) at `i`, or 0. Tags cannot contain `$` or start with a digit. */
function dollarTagLength(sql: string, i: number): number {
  let j = i + 1;
  if (j < sql.length && isIdentStart(sql.charCodeAt(j))) {
    j++;
    while (j < sql.length) {
      const c = sql.charCodeAt(j);
      if (c === DOLLAR || !isIdentCont(c)) break;
      j++;
    }
  }
  return sql.charCodeAt(j) === DOLLAR ? j + 1 - i : 0;
}

/** Digits of one base with PostgreSQL 16's `_` separators. */
function skipDigits(sql: string, i: number, digit: (c: number) => boolean): number {
  let j = i;
  while (j < sql.length) {
    const c = sql.charCodeAt(j);
    if (digit(c) || (c === UNDERSCORE && digit(sql.charCodeAt(j + 1)))) j++;
    else break;
  }
  return j;
}

const isOctal = (c: number): boolean => c >= 0x30 && c <= 0x37;
const isBinary = (c: number): boolean => c === 0x30 || c === 0x31;

/** A numeric constant at `i` (a digit, or `.` then a digit). */
function lexNumber(sql: string, i: number): Span {
  const c0 = sql.charCodeAt(i);
  if (c0 === 0x30) {
    const p = sql.charCodeAt(i + 1) | 0x20; // lower-case
    const base = p === 0x78 ? isHexDigit : p === 0x6f ? isOctal : p === 0x62 ? isBinary : undefined;
    if (base !== undefined) {
      // `0x`, then optional `_` before each digit
      const first = sql.charCodeAt(i + 2) === UNDERSCORE ? i + 3 : i + 2;
      if (base(sql.charCodeAt(first))) return { kind: 'integer', start: i, end: skipDigits(sql, first, base) };
    }
  }
  let j = skipDigits(sql, i, isDigit);
  let kind: SpanKind = 'integer';
  // `1..10` is an integer then `..` (PL/pgSQL ranges), not `1.` then `.10`.
  if (sql.charCodeAt(j) === DOT && sql.charCodeAt(j + 1) !== DOT) {
    kind = 'float';
    j = skipDigits(sql, j + 1, isDigit);
  }
  const e = sql.charCodeAt(j) | 0x20;
  if (e === 0x65) {
    const sign = sql.charCodeAt(j + 1);
    const k = sign === 0x2b || sign === DASH ? j + 2 : j + 1;
    if (isDigit(sql.charCodeAt(k))) {
      kind = 'float';
      j = skipDigits(sql, k, isDigit);
    }
  }
  return { kind, start: i, end: j };
}

/** One token at a position: where it ends, and the span it is when it is a literal, comment or parameter. */
export interface Token {
  end: number;
  span?: Span;
}

/**
 * The token starting at `i` (not whitespace): a literal, comment or parameter with its span, or anything else (an
 * identifier, an operator) with its end only. What {@link lexSql} does at each token, exported so that a cached
 * analysis can be checked against a new text with exactly the lexer's rules (statement-template.ts).
 */
export function tokenAt(sql: string, i: number, backslashEscapes = false): Token {
  const n = sql.length;
  const c = sql.charCodeAt(i);
  if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
    let j = i + 2;
    while (j < n && sql.charCodeAt(j) !== LF && sql.charCodeAt(j) !== CR) j++;
    return { end: j, span: { kind: 'comment', start: i, end: j } };
  }
  if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
    let depth = 1;
    let j = i + 2;
    while (j < n && depth > 0) {
      const d = sql.charCodeAt(j);
      if (d === SLASH && sql.charCodeAt(j + 1) === STAR) {
        depth++;
        j += 2;
      } else if (d === STAR && sql.charCodeAt(j + 1) === SLASH) {
        depth--;
        j += 2;
      } else j++;
    }
    const end = Math.min(j, n);
    return { end, span: { kind: 'comment', start: i, end } };
  }
  if (c === QUOTE) {
    const end = endOfQuoted(sql, i + 1, backslashEscapes);
    return { end, span: { kind: 'string', start: i, end } };
  }
  if (c === DQUOTE) return quotedIdent(sql, i, i + 1);
  if (c === DOLLAR) {
    if (isDigit(sql.charCodeAt(i + 1))) {
      let j = i + 1;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      return { end: j, span: { kind: 'param', start: i, end: j } };
    }
    const tag = dollarTagLength(sql, i);
    if (tag === 0) return { end: i + 1 };
    const close = sql.indexOf(sql.slice(i, i + tag), i + tag);
    const end = close < 0 ? n : close + tag;
    return { end, span: { kind: 'string', start: i, end } };
  }
  if (c === DOT && sql.charCodeAt(i + 1) === DOT) return { end: i + 2 }; // `..` (DOT_DOT): `.10` of `1..10` is no number
  if (isDigit(c) || (c === DOT && isDigit(sql.charCodeAt(i + 1)))) {
    const span = lexNumber(sql, i);
    return { end: span.end, span };
  }
  if (isIdentStart(c)) {
    let j = i + 1;
    while (j < n && isIdentCont(sql.charCodeAt(j))) j++;
    const next = sql.charCodeAt(j);
    if (j === i + 1 && next === QUOTE) {
      // One-letter prefixes that make the quote part of the literal: E'…', B'…', X'…' (N'… is NCHAR then '…').
      const p = c | 0x20;
      if (p === 0x65 || p === 0x62 || p === 0x78) {
        const end = endOfQuoted(sql, j + 1, true);
        return { end, span: { kind: p === 0x65 ? 'string' : p === 0x62 ? 'bits' : 'hex', start: i, end } };
      }
    } else if (j === i + 1 && (c | 0x20) === 0x75 && next === AMP) {
      const q = sql.charCodeAt(j + 1);
      if (q === QUOTE) {
        const end = endOfQuoted(sql, j + 2, false);
        return { end, span: { kind: 'string', start: i, end } };
      }
      if (q === DQUOTE) return quotedIdent(sql, i, j + 2);
    }
    // A bare word shaped like an IBAN is data typed without quotes (`WHERE iban = FR7630006000011234567890189`) in
    // a statement the server refused or will refuse: hide it like a string.
    if (j - i >= 15 && DATA_IN_WORD.test(sql.slice(i, j)))
      return { end: j, span: { kind: 'string', start: i, end: j } };
    return { end: j };
  }
  return { end: i + 1 };
}

/** `"…"` or `U&"…"` from `start`, body at `body`: a string span when it holds data or never ends, else no span. */
function quotedIdent(sql: string, start: number, body: number): Token {
  const end = endOfQuotedIdent(sql, body);
  // An unterminated identifier may really be a literal the scanner lost track of: hide it.
  if (end < 0) return { end: sql.length, span: { kind: 'string', start, end: sql.length } };
  return DATA_IN_IDENTIFIER.test(sql.slice(body, end - 1)) ? { end, span: { kind: 'string', start, end } } : { end };
}

/**
 * Finds every literal, comment and `$n` parameter in `sql`. Never throws. `backslashEscapes` reads a backslash as
 * an escape in plain strings too, as the server does under `standard_conforming_strings = off`.
 */
export function lexSql(sql: string, backslashEscapes = false): LexedSql {
  const spans: Span[] = [];
  let maxParam = 0;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    if (isSpace(sql.charCodeAt(i))) {
      i++;
      continue;
    }
    const t = tokenAt(sql, i, backslashEscapes);
    if (t.span !== undefined) {
      spans.push(t.span);
      if (t.span.kind === 'param') {
        const number = Number(sql.slice(i + 1, t.end));
        if (number > maxParam) maxParam = number;
      }
    }
    i = t.end;
  }
  return { spans, maxParam };
}
