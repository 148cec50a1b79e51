/**
 * Recognising the statements that matter to the role in effect (`SET [SESSION|LOCAL] ROLE`, `RESET ROLE`,
 * `SET SESSION AUTHORIZATION`, COMMIT, ROLLBACK, savepoints) in what pgaudit prints. Following the role through
 * the transactions these statements make stick or undo is role-tracker.ts.
 */

import { tokenAt } from '@vigie/sql';

/** A statement that matters to the role in effect. `role: undefined` is the login role. */
export type RoleStatement =
  | { type: 'set'; role: string | undefined; local: boolean }
  | { type: 'commit' }
  | { type: 'rollback' }
  | { type: 'savepoint'; name: string }
  | { type: 'release'; name: string }
  | { type: 'rollback-to'; name: string };

/** A query string of several statements being audited one line at a time (see {@link roleStatementOf}). */
export interface RoleCursor {
  text: string;
  statements: string[];
  next: number;
}

/** The part of a session's state {@link roleStatementOf} keeps between the lines of one query string. */
export interface RoleCursorState {
  roleCursor?: RoleCursor | undefined;
}

/** The statements of a query string, split at `;` outside literals, comments and quoted identifiers. */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13)) {
      i++;
      continue;
    }
    if (c === 59) {
      out.push(text.slice(start, i));
      start = i + 1;
      i++;
      continue;
    }
    i = tokenAt(text, i).end;
  }
  out.push(text.slice(start));
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

/** The command pgaudit prints for a statement, from its first words (only the ones roles care about are exact). */
function auditCommandOf(statement: string): string {
  const words = /^([A-Za-z]+)(?:\s+([A-Za-z]+))?/.exec(statement);
  const first = (words?.[1] ?? '').toUpperCase();
  const second = (words?.[2] ?? '').toUpperCase();
  switch (first) {
    case 'END':
      return 'COMMIT';
    case 'ABORT':
      return 'ROLLBACK';
    case 'START':
      return 'START TRANSACTION';
    case 'DISCARD':
      return `DISCARD ${second}`;
    case 'PREPARE':
      return second === 'TRANSACTION' ? 'PREPARE TRANSACTION' : 'PREPARE';
    default:
      return first;
  }
}

/**
 * What one audited line (pgaudit command + text) does to the role. pgaudit prints the whole query string on the
 * line of each statement it holds (`BEGIN; SET LOCAL ROLE x` gives a BEGIN line and a SET line, both with that text),
 * so a text of several statements is split once and its lines matched to its statements in order, by command.
 */
export function roleStatementOf(s: RoleCursorState, command: string, text: string): RoleStatement | undefined {
  if (!isRoleCommand(command)) {
    if (s.roleCursor !== undefined && s.roleCursor.text === text) advanceCursor(s.roleCursor, command);
    return undefined;
  }
  if (text.indexOf(';') < 0 || text.indexOf(';') === text.trimEnd().length - 1) return roleStatement(command, text);
  let cursor = s.roleCursor;
  if (cursor === undefined || cursor.text !== text) {
    const statements = splitStatements(text);
    if (statements.length <= 1) return roleStatement(command, text);
    cursor = s.roleCursor = { text, statements, next: 0 };
  }
  const j = advanceCursor(cursor, command);
  return j < 0 ? undefined : roleStatement(command, cursor.statements[j] as string);
}

/** Index of the next statement of the cursor's text with this command (moving past it), or -1. */
function advanceCursor(cursor: RoleCursor, command: string): number {
  for (let j = cursor.next; j < cursor.statements.length; j++) {
    if (auditCommandOf(cursor.statements[j] as string) === command) {
      cursor.next = j + 1;
      return j;
    }
  }
  return -1;
}

/**
 * The pgaudit commands that can matter to the role. A switch rather than a Set: each command is a fresh string whose
 * hash a Set would compute every time, while `===` rejects most of them on their length.
 */
function isRoleCommand(command: string): boolean {
  switch (command) {
    case 'SET':
    case 'RESET':
    case 'DISCARD ALL':
    case 'COMMIT':
    case 'PREPARE TRANSACTION':
    case 'ROLLBACK':
    case 'SAVEPOINT':
    case 'RELEASE':
      return true;
    default:
      return false;
  }
}

const SET_ROLE = /^\s*SET\s+(?:(SESSION|LOCAL)\s+)?ROLE\s+(.+?)\s*;?\s*$/is;
const SET_AUTH = /^\s*SET\s+(?:(SESSION|LOCAL)\s+)?SESSION\s+AUTHORIZATION\s+(.+?)\s*;?\s*$/is;
const RESET_ROLE = /^\s*(?:RESET\s+(?:ROLE|SESSION\s+AUTHORIZATION|ALL)|DISCARD\s+ALL)\s*;?\s*$/i;
const NAME = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const SAVEPOINT = new RegExp(String.raw`^\s*SAVEPOINT\s+${NAME}\s*;?\s*$`, 'is');
const RELEASE = new RegExp(String.raw`^\s*RELEASE\s+(?:SAVEPOINT\s+)?${NAME}\s*;?\s*$`, 'is');
const ROLLBACK_TO = new RegExp(
  String.raw`^\s*ROLLBACK\s+(?:(?:WORK|TRANSACTION)\s+)?TO\s+(?:SAVEPOINT\s+)?${NAME}\s*;?\s*$`,
  'is',
);

// One object each: pgbench-like logs end every transaction with a COMMIT.
const COMMIT: RoleStatement = Object.freeze({ type: 'commit' });
const ROLLBACK: RoleStatement = Object.freeze({ type: 'rollback' });

/** A role or savepoint name as SQL writes it: `"Quoted"` keeps case, `'literal'` is allowed by SET ROLE, bare folds. */
function sqlName(text: string): string | undefined {
  const t = text.trim();
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) return t.slice(1, -1).replace(/""/g, '"');
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) return t.slice(1, -1).replace(/''/g, "'");
  if (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(t)) return t.toLowerCase();
  return undefined;
}

/** Role in effect after a SET/RESET statement, `null` for "back to the login role", undefined when not a role change. */
export function roleChange(statement: string): string | null | undefined {
  const s = roleStatement('SET', statement) ?? roleStatement('RESET', statement);
  return s?.type === 'set' ? (s.role ?? null) : undefined;
}

/**
 * What a statement (pgaudit command + text) does to the role in effect, or undefined. Only the commands pgaudit
 * prints for these statements are looked at, so the common statement costs one string comparison.
 */
export function roleStatement(command: string, text: string): RoleStatement | undefined {
  switch (command) {
    case 'SET':
    case 'RESET':
    case 'DISCARD ALL': {
      if (RESET_ROLE.test(text)) return { type: 'set', role: undefined, local: false };
      const m = SET_ROLE.exec(text) ?? SET_AUTH.exec(text);
      if (!m || m[2] === undefined) return undefined;
      const local = m[1]?.toUpperCase() === 'LOCAL';
      if (/^(?:NONE|DEFAULT)$/i.test(m[2])) return { type: 'set', role: undefined, local };
      const name = sqlName(m[2]);
      return name === undefined ? undefined : { type: 'set', role: name, local };
    }
    case 'COMMIT':
    case 'PREPARE TRANSACTION':
      return COMMIT;
    case 'ROLLBACK': {
      const m = ROLLBACK_TO.exec(text);
      if (m?.[1] === undefined) return ROLLBACK;
      const name = sqlName(m[1]);
      return name === undefined ? ROLLBACK : { type: 'rollback-to', name };
    }
    case 'SAVEPOINT': {
      const name = sqlName(SAVEPOINT.exec(text)?.[1] ?? '');
      return name === undefined ? undefined : { type: 'savepoint', name };
    }
    case 'RELEASE': {
      const name = sqlName(RELEASE.exec(text)?.[1] ?? '');
      return name === undefined ? undefined : { type: 'release', name };
    }
    default:
      return undefined;
  }
}
