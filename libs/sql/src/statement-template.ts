import { lexSql, tokenAt, type SpanKind } from './sql-lexer.js';

/**
 * A statement with its literals and comments cut out: the text between them, and what each cut-out piece was.
 * Two texts with one template differ only inside literals and comments, so PostgreSQL parses them to the same tree
 * up to constant values — and their analyses (kind, relations, WHERE, functions, redacted text) are equal.
 */
export interface StatementTemplate {
  /** The text around the literals: `fixed.length === kinds.length + 1`. */
  readonly fixed: readonly string[];
  /** Kind and first-character class (see {@link charClass}) of each literal or comment, in order. */
  readonly kinds: readonly SpanKind[];
  readonly firsts: readonly number[];
}

/**
 * What the lexer's decisions around a token boundary depend on in a literal's first character: whether it is a
 * digit, a letter (identifier start), or exactly which other character (`'`, `"`, `$`, `.`, `-`, `/`).
 */
function charClass(c: number): number {
  if (c >= 0x30 && c <= 0x39) return 0x30;
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80) return 0x41;
  return c;
}

/** The template of a statement (one lexer pass). */
export function templateOf(sql: string): StatementTemplate {
  const fixed: string[] = [];
  const kinds: SpanKind[] = [];
  const firsts: number[] = [];
  let at = 0;
  for (const span of lexSql(sql).spans) {
    if (span.kind === 'param') continue; // `$1` is the same text in both: part of the fixed text
    fixed.push(sql.slice(at, span.start));
    kinds.push(span.kind);
    firsts.push(charClass(sql.charCodeAt(span.start)));
    at = span.end;
  }
  fixed.push(sql.slice(at));
  return { fixed, kinds, firsts };
}

/**
 * Whether `sql` has exactly this template: each fixed piece in place, and between them a literal of the same kind
 * starting with the same character, delimited by the lexer's own rules (`tokenAt`). The lexer reads the fixed pieces
 * the same way in both texts (same characters, same state at their start), so a match means the same tokens around
 * other literal values. Costs native string comparisons plus a scan of the literals only.
 */
export function matchesTemplate(t: StatementTemplate, sql: string): boolean {
  const { fixed, kinds, firsts } = t;
  let pos = 0;
  for (let k = 0; k < kinds.length; k++) {
    const piece = fixed[k] as string;
    if (!sql.startsWith(piece, pos)) return false;
    pos += piece.length;
    if (charClass(sql.charCodeAt(pos)) !== firsts[k]) return false;
    const token = tokenAt(sql, pos);
    if (token.span === undefined || token.span.kind !== kinds[k]) return false;
    pos = token.end;
  }
  const last = fixed[kinds.length] as string;
  return pos + last.length === sql.length && sql.endsWith(last);
}
