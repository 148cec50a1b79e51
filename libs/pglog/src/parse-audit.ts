import type { AuditClass } from '@vigie/contract';

/** One pgaudit line's payload (`AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.t,"SELECT …",<none>,5`). */
export interface AuditLine {
  auditType: 'SESSION' | 'OBJECT';
  statementId: number;
  substatementId: number;
  class: AuditClass;
  command: string;
  objectType: string;
  objectName: string;
  /** Statement text as logged, or the marker `<previously logged>` / `<not logged>`. */
  statement: string;
  /** Bound parameter values (never leave the collector), empty for `<none>` / `<not logged>`. */
  parameters: string[];
  /** Whether parameter logging was on (`<not logged>` means it was off). */
  parametersLogged: boolean;
  /** Rows, when `pgaudit.log_rows` is on. */
  rows?: number;
}

/** The prefix pgaudit puts before its payload in `message`. */
export const AUDIT_PREFIX = 'AUDIT: ';

/** The value of the last field read by {@link readQuoted}. */
let quotedValue = '';

/**
 * Reads the quoted field whose opening quote is at `at` (doubled quotes inside are one quote): its value goes to
 * {@link quotedValue}, the index after its closing quote is returned, or -1 when the quote is never closed.
 */
function readQuoted(text: string, at: number): number {
  let value = '';
  let p = at + 1;
  for (;;) {
    const q = text.indexOf('"', p);
    if (q < 0) return -1;
    if (text.charCodeAt(q + 1) === 34) {
      value += text.slice(p, q + 1);
      p = q + 2;
      continue;
    }
    quotedValue = value + text.slice(p, q);
    return q + 1;
  }
}

/**
 * Splits pgaudit's CSV: a field is quoted only when it holds `,` `"` CR or LF, with quotes doubled. Returns
 * undefined on an unterminated quote.
 */
export function splitAuditCsv(text: string, from = 0): string[] | undefined {
  const out: string[] = [];
  let i = from;
  const n = text.length;
  if (i >= n) return [''];
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      i = readQuoted(text, i);
      if (i < 0) return undefined;
      out.push(quotedValue);
      if (i >= n) return out;
      if (text.charCodeAt(i) !== 44) return undefined;
      i += 1;
      if (i >= n) {
        out.push('');
        return out;
      }
    } else {
      const comma = text.indexOf(',', i);
      if (comma < 0) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, comma));
      i = comma + 1;
      if (i >= n) {
        out.push('');
        return out;
      }
    }
  }
}

/** Why a pgaudit payload was refused (no content quoted). */
export interface AuditParseFailure {
  error: string;
}

/**
 * Parses the payload after `AUDIT: `. The statement field is CSV-quoted when needed, so the split is exact even for
 * statements full of commas and quotes; the parameter field is itself a CSV list of values.
 */
export function parseAuditPayload(message: string): AuditLine | AuditParseFailure {
  return parseCommonPayload(message) ?? parseAnyPayload(message);
}

/** Audit classes as Vigie names them: pgaudit 1.7 may print MISC_SET for SET statements (misc_set class on). */
const CLASS_OF: ReadonlyMap<string, AuditClass> = new Map([
  ['READ', 'READ'],
  ['WRITE', 'WRITE'],
  ['FUNCTION', 'FUNCTION'],
  ['ROLE', 'ROLE'],
  ['DDL', 'DDL'],
  ['MISC', 'MISC'],
  ['MISC_SET', 'MISC'],
]);

/** The value of `text[from, to)` when it is 1 to 9 plain digits (what Number() would give then), else -1. */
function smallInt(text: string, from: number, to: number): number {
  if (to <= from || to - from > 9) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    value = value * 10 + c - 48;
  }
  return value;
}

/** End of the unquoted field starting at `at` (its comma), or -1 when it is quoted or the last field. */
function plainEnd(text: string, at: number): number {
  return text.charCodeAt(at) === 34 ? -1 : text.indexOf(',', at);
}

/**
 * The payload as pgaudit nearly always writes it (ids, class, command and object unquoted; no parameter values)
 * read in place, without an array of fields nor strings for the numbers and fixed words: parseAuditPayload on the
 * bench's lines 67 ms → 48 ms per 200k. Undefined for anything else, which {@link parseAnyPayload} reads, errors
 * included, so the result is always the general reading's.
 */
function parseCommonPayload(m: string): AuditLine | undefined {
  let at = AUDIT_PREFIX.length;
  let end = m.indexOf(',', at);
  const auditType = end - at === 7 ? 'SESSION' : end - at === 6 ? 'OBJECT' : undefined;
  // Slices compared rather than startsWith() (here and for the parameter marker): 54 → 48 ms per 200k lines.
  if (auditType === undefined || m.slice(at, end) !== auditType) return undefined;
  at = end + 1;
  end = m.indexOf(',', at);
  const statementId = smallInt(m, at, end);
  if (statementId < 0) return undefined;
  at = end + 1;
  end = m.indexOf(',', at);
  const substatementId = smallInt(m, at, end);
  if (substatementId < 0) return undefined;
  at = end + 1;
  end = plainEnd(m, at);
  const cls = end < 0 ? undefined : CLASS_OF.get(m.slice(at, end));
  if (cls === undefined) return undefined;
  at = end + 1;
  end = plainEnd(m, at);
  if (end < 0) return undefined;
  const command = m.slice(at, end);
  at = end + 1;
  end = plainEnd(m, at);
  if (end < 0) return undefined;
  const objectType = m.slice(at, end);
  at = end + 1;
  end = plainEnd(m, at);
  if (end < 0) return undefined;
  const objectName = m.slice(at, end);
  at = end + 1;
  let statement: string;
  if (m.charCodeAt(at) === 34) {
    end = readQuoted(m, at);
    if (end < 0 || m.charCodeAt(end) !== 44) return undefined;
    statement = quotedValue;
  } else {
    end = m.indexOf(',', at);
    if (end < 0) return undefined;
    statement = m.slice(at, end);
  }
  at = end + 1;
  end = m.indexOf(',', at);
  const param = end < 0 ? m.slice(at) : m.slice(at, end);
  if (param !== '<none>' && param !== '<not logged>') return undefined;
  at += param.length;
  const line: AuditLine = {
    auditType,
    statementId,
    substatementId,
    class: cls,
    command,
    objectType,
    objectName,
    statement,
    parameters: [],
    parametersLogged: param === '<none>',
  };
  if (at === m.length) return line;
  if (m.charCodeAt(at) !== 44) return undefined;
  const rows = smallInt(m, at + 1, m.length);
  if (rows < 0) return undefined;
  line.rows = rows;
  return line;
}

/** Any payload: split into fields, then each checked (the reading every payload must agree with). */
function parseAnyPayload(message: string): AuditLine | AuditParseFailure {
  const f = splitAuditCsv(message, AUDIT_PREFIX.length);
  if (f === undefined) return { error: 'unbalanced quotes in the audit payload' };
  if (f.length !== 9 && f.length !== 10) return { error: `${f.length} audit fields, expected 9 or 10` };
  const [type, stmt, sub, cls, command, objType, objName, statement, param, rowsText] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (type !== 'SESSION' && type !== 'OBJECT') return { error: 'audit type is neither SESSION nor OBJECT' };
  const statementId = Number(stmt);
  const substatementId = Number(sub);
  if (!Number.isInteger(statementId) || !Number.isInteger(substatementId) || stmt === '' || sub === '') {
    return { error: 'statement or substatement id is not an integer' };
  }
  const vigieClass = CLASS_OF.get(cls);
  if (vigieClass === undefined) return { error: 'unknown audit class' };
  const line: AuditLine = {
    auditType: type,
    statementId,
    substatementId,
    class: vigieClass,
    command,
    objectType: objType,
    objectName: objName,
    statement,
    parameters: [],
    parametersLogged: param !== '<not logged>',
  };
  if (param !== '<none>' && param !== '<not logged>' && param !== '') {
    const values = splitAuditCsv(param);
    if (values === undefined) return { error: 'unbalanced quotes in the parameter list' };
    line.parameters = values;
  }
  if (rowsText !== undefined) {
    const rows = Number(rowsText);
    if (rowsText === '' || !Number.isInteger(rows) || rows < 0) return { error: 'rows is not a non-negative integer' };
    line.rows = rows;
  }
  return line;
}

/** What the head of a cut pgaudit payload still tells (see `parseAuditHead`). */
export interface AuditHead {
  auditType: 'SESSION' | 'OBJECT';
  statementId: number;
  substatementId: number;
  class: AuditClass;
  command: string;
  objectType: string;
  objectName: string;
  /** The statement's first characters. */
  statement: string;
}

/**
 * Reads the head of a pgaudit payload whose end was cut off (a record over the collector's size limit): the seven
 * fields before the statement, and as much of the statement as there is. Undefined when even those are not there.
 */
export function parseAuditHead(message: string): AuditHead | undefined {
  const fields: string[] = [];
  let i = AUDIT_PREFIX.length;
  while (fields.length < 7) {
    if (message.charCodeAt(i) === 34) {
      const end = readQuoted(message, i);
      if (end < 0 || message.charCodeAt(end) !== 44) return undefined;
      fields.push(quotedValue);
      i = end + 1;
    } else {
      const comma = message.indexOf(',', i);
      if (comma < 0) return undefined;
      fields.push(message.slice(i, comma));
      i = comma + 1;
    }
  }
  const [type, stmt, sub, cls, command, objectType, objectName] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const vigieClass = CLASS_OF.get(cls);
  const statementId = smallInt(stmt, 0, stmt.length);
  const substatementId = smallInt(sub, 0, sub.length);
  if ((type !== 'SESSION' && type !== 'OBJECT') || vigieClass === undefined || statementId < 0 || substatementId < 0) {
    return undefined;
  }
  let statement: string;
  if (message.charCodeAt(i) === 34) {
    // Quoted and cut: undo the doubling of what is there (a last lone quote is the cut half of a pair).
    const end = readQuoted(message, i);
    statement =
      end < 0
        ? message
            .slice(i + 1)
            .replace(/""/g, '"')
            .replace(/"$/, '')
        : quotedValue;
  } else {
    const comma = message.indexOf(',', i);
    statement = comma < 0 ? message.slice(i) : message.slice(i, comma);
  }
  return {
    auditType: type,
    statementId,
    substatementId,
    class: vigieClass,
    command,
    objectType,
    objectName,
    statement,
  };
}
