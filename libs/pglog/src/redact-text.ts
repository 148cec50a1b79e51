/**
 * Literals in free text (server messages, replication commands, dead-letter excerpts): quoted strings (single or
 * double quotes; an unterminated one runs to the end, so a cut excerpt leaves nothing behind) and digit runs not
 * glued to an identifier. Group 1 is a JSON key (a double-quoted word followed by `:`), kept in excerpts of jsonlog
 * lines so they still show their structure.
 */
const FREE_TEXT_LITERAL =
  /("[A-Za-z_]+")(?=:)|'(?:[^'\\]|''|\\[\s\S])*(?:'|$)|"(?:[^"\\]|""|\\[\s\S])*(?:"|$)|(?<![A-Za-z_$0-9])\d[\d.:-]*|\b(?=[A-Za-z]{0,4}\d)(?=(?:[A-Za-z]*\d){5})[A-Za-z0-9]+\b/g;

// The last alternative above: IBAN-like runs of letters and digits (`FR7630006000011234567890189`), any word with
// five digits or more, which a digit run alone misses because it is glued to letters.

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

/** Longest application name events carry (the contract's `APPLICATION_NAME_MAX`). */
const APPLICATION_NAME_MAX = 64;
// What looks like personal data in a name a client chose, each replaced by `$n`: e-mail addresses, IBAN-shaped words,
// and numbers of nine digits or more standing on their own (single spaces, dots or dashes allowed between digits: a
// NIR, a phone number). Shorter numbers and digits glued to letters stay (versions, dates, `job_20240105`, random
// hex suffixes). Everything outside printable ASCII becomes `?` (the server does the same).
const APP_DATA =
  /[^\s@]+@[^\s@]+|(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}(?![A-Za-z0-9])|(?<![A-Za-z0-9])\d(?:[ .-]?\d){8,}(?![A-Za-z0-9])/g;
let lastAppRaw: string | undefined;
let lastAppClean: string | undefined;

/**
 * `application_name` as events may carry it: the client chooses it (it is hostile input), so it is bounded to printable
 * ASCII and 64 characters, and e-mail addresses and long numbers in it are replaced by `$n`. The last answer is
 * remembered: consecutive records of a session carry the same name.
 */
export function cleanApplicationName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  if (name === lastAppRaw) return lastAppClean;
  let n = 0;
  const ascii = name.slice(0, 256).replace(/[^\x20-\x7e]/g, '?');
  const clean = ascii.replace(APP_DATA, () => `$${++n}`).slice(0, APPLICATION_NAME_MAX);
  lastAppRaw = name;
  lastAppClean = clean;
  return clean;
}
