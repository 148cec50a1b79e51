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

import type { RoleCursorState, RoleStatement } from './parse-role.js';

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
export interface RoleState extends RoleCursorState {
  /** Role after the last committed transaction; undefined means the login role. */
  effectiveRole?: string | undefined;
  roleTx?: RoleTransaction | undefined;
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
