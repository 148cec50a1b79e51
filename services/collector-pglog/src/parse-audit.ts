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

const CLASSES = new Set<string>(['READ', 'WRITE', 'FUNCTION', 'ROLE', 'DDL', 'MISC', 'MISC_SET']);

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
      let value = '';
      let p = i + 1;
      for (;;) {
        const q = text.indexOf('"', p);
        if (q < 0) return undefined;
        if (text.charCodeAt(q + 1) === 34) {
          value += text.slice(p, q + 1);
          p = q + 2;
          continue;
        }
        value += text.slice(p, q);
        i = q + 1;
        break;
      }
      out.push(value);
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
  if (!CLASSES.has(cls)) return { error: 'unknown audit class' };
  const line: AuditLine = {
    auditType: type,
    statementId,
    substatementId,
    // pgaudit 1.7 may print MISC_SET for SET statements when the misc_set class is on: same class for Vigie.
    class: (cls === 'MISC_SET' ? 'MISC' : cls) as AuditClass,
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
