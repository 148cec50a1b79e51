/**
 * Free text that may hold literals (server messages, replication commands, dead-letter excerpts): quoted strings
 * (single or double quotes; an unterminated one runs to the end, so a cut excerpt leaves nothing behind) and digit
 * runs not glued to an identifier become `$n`. A JSON key (a double-quoted string followed by `:`) is kept so an
 * excerpt of a jsonlog line still shows its structure.
 */
const FREE_TEXT_LITERAL =
  /"(?:[^"\\]|\\[\s\S])*"(?=\s*:)|'(?:[^'\\]|''|\\[\s\S])*(?:'|$)|"(?:[^"\\]|""|\\[\s\S])*(?:"|$)|(?<![A-Za-z_$0-9])\d[\d.:-]*/g;

/** Replaces every literal-looking part of a free text by `$n` (see {@link FREE_TEXT_LITERAL}). */
export function redactFreeText(text: string): string {
  let n = 0;
  return text.replace(FREE_TEXT_LITERAL, (m) => (m.startsWith('"') && isJsonKey(text, m) ? m : `$${++n}`));
}

// The regex's first branch matches keys through a lookahead; this distinguishes that branch from the value branch.
function isJsonKey(_text: string, match: string): boolean {
  return match.length >= 2 && match.endsWith('"') && !match.includes("'") && /^"[A-Za-z_]+"$/.test(match);
}

/** Largest dead-letter excerpt the contract accepts. */
export const EXCERPT_MAX = 1024;

/** The start of a rejected record, redacted (or raw when the site turned redaction off), within the contract limit. */
export function excerptOf(text: string, redact: boolean): string {
  // Redact before cutting: cutting first could split a literal and leave its beginning unquoted.
  const head = text.length > 8 * EXCERPT_MAX ? text.slice(0, 8 * EXCERPT_MAX) : text;
  const out = redact ? redactFreeText(head) : head;
  return out.length > EXCERPT_MAX ? out.slice(0, EXCERPT_MAX) : out;
}
