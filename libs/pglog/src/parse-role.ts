/**
 * The role in effect in a session, followed through `SET [SESSION|LOCAL] ROLE`, `RESET ROLE` and the transactions
 * that make them stick or undo them — as PostgreSQL treats `role` (a setting): a `SET` inside a transaction that
 * rolls back is undone, `SET LOCAL` ends with its transaction, `ROLLBACK TO SAVEPOINT` restores the value the
 * savepoint saw. Facts checked on the real server (PostgreSQL 15, pgaudit 1.7):
 *
 * - every record of a transaction carries its virtual transaction id (`vxid`, `3/226`), and the next transaction
 *   another one; records of an aborted transaction block carry `3/0`;
 * - pgaudit logs BEGIN, COMMIT (also for `END`), ROLLBACK (also for `ROLLBACK TO SAVEPOINT`), SAVEPOINT and RELEASE,
 *   but nothing in an aborted transaction: neither its `ROLLBACK` nor a `ROLLBACK TO SAVEPOINT` that revives it.
 *   So an ERROR record means "the transaction will roll back", and an audited statement after it in the same
 *   transaction means a `ROLLBACK TO SAVEPOINT` happened in between (psql's ON_ERROR_ROLLBACK does exactly that).
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

interface Savepoint {
  name: string;
  current: string | undefined;
  pending: string | undefined;
}

/** The open transaction of a session, as far as the role is concerned. */
export interface RoleTransaction {
  vxid: string;
  /** Role in effect now (SET LOCAL included). */
  current: string | undefined;
  /** Role the session keeps if this transaction commits. */
  pending: string | undefined;
  /** An ERROR was logged: the transaction rolls back unless a savepoint revives it. */
  errored: boolean;
  savepoints: Savepoint[];
}

/** The part of a session's state that tracks its role. */
export interface RoleState {
  /** Role after the last committed transaction; undefined means the login role. */
  effectiveRole?: string | undefined;
  roleTx?: RoleTransaction | undefined;
  /** A query string of several statements being audited one line at a time (see {@link roleStatementOf}). */
  roleCursor?: { text: string; statements: string[]; next: number } | undefined;
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
export function roleStatementOf(s: RoleState, command: string, text: string): RoleStatement | undefined {
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
function advanceCursor(cursor: { statements: string[]; next: number }, command: string): number {
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

/** The role in effect now in a session (undefined: its login role). */
export function currentRole(s: RoleState): string | undefined {
  return s.roleTx === undefined ? s.effectiveRole : s.roleTx.current;
}

function endTransaction(s: RoleState, commit: boolean): void {
  const tx = s.roleTx;
  if (tx === undefined) return;
  if (commit) s.effectiveRole = tx.pending;
  s.roleTx = undefined;
}

/**
 * Takes in any record of the session, in log order (its transaction id, whether it is an error, whether it is an
 * audited statement): ends the previous transaction when the vxid changes, marks a transaction whose ERROR was
 * logged, and recognises a transaction revived by a `ROLLBACK TO SAVEPOINT` that pgaudit could not log.
 */
export function observeTransaction(s: RoleState, vxid: string | undefined, error: boolean, audited: boolean): void {
  // No transaction state until a statement of it touches the role (SET, SAVEPOINT): nothing to end or undo, and the
  // common statement allocates nothing.
  const tx = s.roleTx;
  if (tx === undefined) return;
  // `n/0`: a statement in an aborted transaction block (nothing audited there); still the same transaction.
  if (vxid !== undefined && vxid.endsWith('/0')) {
    if (error) tx.errored = true;
    return;
  }
  if (tx.vxid !== vxid) {
    endTransaction(s, !tx.errored);
    return;
  }
  if (error) {
    tx.errored = true;
  } else if (audited && tx.errored) {
    const sp = tx.savepoints[tx.savepoints.length - 1];
    if (sp !== undefined) {
      tx.current = sp.current;
      tx.pending = sp.pending;
    }
    tx.errored = false;
  }
}

/** Applies one audited statement of the transaction `vxid` (after {@link observeTransaction} saw its record). */
export function applyRoleStatement(s: RoleState, st: RoleStatement, vxid: string | undefined, login?: string): void {
  let tx = s.roleTx;
  if (tx === undefined) {
    if (st.type !== 'set' && st.type !== 'savepoint') return; // ends or rewinds a transaction that changed nothing
    if (vxid === undefined || vxid.endsWith('/0')) {
      // No transaction id (a log without vxid): the statement stands on its own.
      if (st.type === 'set' && !st.local) s.effectiveRole = st.role === login ? undefined : st.role;
      return;
    }
    const role = s.effectiveRole;
    tx = s.roleTx = { vxid, current: role, pending: role, errored: false, savepoints: [] };
  }
  switch (st.type) {
    case 'set': {
      const role = st.role === login ? undefined : st.role;
      tx.current = role;
      if (!st.local) tx.pending = role;
      return;
    }
    case 'commit':
      return endTransaction(s, !tx.errored);
    case 'rollback':
      return endTransaction(s, false);
    case 'savepoint':
      tx.savepoints.push({ name: st.name, current: tx.current, pending: tx.pending });
      return;
    case 'release':
    case 'rollback-to': {
      let i = tx.savepoints.length - 1;
      while (i >= 0 && tx.savepoints[i]?.name !== st.name) i--;
      if (i < 0) return;
      const sp = tx.savepoints[i] as Savepoint;
      if (st.type === 'release') {
        tx.savepoints.length = i;
      } else {
        tx.current = sp.current;
        tx.pending = sp.pending;
        tx.savepoints.length = i + 1;
      }
      return;
    }
  }
}
