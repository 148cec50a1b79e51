/**
 * Literals in free text (server messages, replication commands, dead-letter excerpts): quoted strings (single or
 * double quotes; an unterminated one runs to the end, so a cut excerpt leaves nothing behind) and digit runs not
 * glued to an identifier. Group 1 is a JSON key (a double-quoted word followed by `:`), kept in excerpts of jsonlog
 * lines so they still show their structure.
 */
const FREE_TEXT_LITERAL =
  /("[A-Za-z_]+")(?=:)|'(?:[^'\\]|''|\\[\s\S])*(?:'|$)|"(?:[^"\\]|""|\\[\s\S])*(?:"|$)|(?<![A-Za-z_$0-9])\d[\d.:-]*/g;

/** Replaces every literal-looking part of a free text by `$n`; `keepJsonKeys` keeps `"key":` names. */
export function redactFreeText(text: string, keepJsonKeys = false): string {
  let n = 0;
  return text.replace(FREE_TEXT_LITERAL, (m: string, key: string | undefined) =>
    key !== undefined && keepJsonKeys ? m : `$${++n}`,
  );
}

/** Largest dead-letter excerpt the contract accepts. */
export const EXCERPT_MAX = 1024;

/** The start of a rejected record, redacted (or raw when the site turned redaction off), within the contract limit. */
export function excerptOf(text: string, redact: boolean): string {
  // Redact before cutting: cutting first could split a literal and leave its beginning unquoted.
  const head = text.length > 8 * EXCERPT_MAX ? text.slice(0, 8 * EXCERPT_MAX) : text;
  const out = redact ? redactFreeText(head, head.startsWith('{')) : head;
  return out.length > EXCERPT_MAX ? out.slice(0, EXCERPT_MAX) : out;
}
