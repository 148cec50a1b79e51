/**
 * Turns a libpg-query error into text safe to ship: the message category and the position, nothing of the
 * statement. PostgreSQL's messages quote the text near the error (`unterminated quoted string at or near
 * "'185057512345678"`), so everything after "at or near", anything quoted and any digits are dropped, and what is
 * left must be plain words.
 */
export function sanitizeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const details = (error as { sqlDetails?: { cursorPosition?: unknown } } | undefined)?.sqlDetails;
  const position = typeof details?.cursorPosition === 'number' ? details.cursorPosition : undefined;
  let category = message.split(' at or near ')[0] ?? '';
  category = category
    .replace(/"(?:[^"]|"")*"?|'(?:[^']|'')*'?/g, '') // quoted echoes of the statement
    .replace(/:.*$/s, '') // "improper qualified name (too many dotted names): a.b.c"
    .replace(/[^A-Za-z /()-]/g, '') // no digits, no punctuation that could carry a value
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80)
    .trim();
  if (category === '') category = 'parse error';
  return position === undefined ? category : `${category} (position ${position})`;
}
