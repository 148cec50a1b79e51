import { describe, expect, it } from 'vitest';
import { roleStatementOf, splitStatements } from './parse-role.js';
import { applyRoleStatement, currentRole, observeTransaction, type RoleState } from './role-tracker.js';

describe('role statements in a query string of several statements', () => {
  it('splits at semicolons outside literals, comments and quoted identifiers', () => {
    expect(splitStatements(`BEGIN; SET ROLE "a;b"; SELECT ';' -- ;\n; COMMIT;`)).toEqual([
      'BEGIN',
      'SET ROLE "a;b"',
      "SELECT ';' -- ;",
      'COMMIT',
    ]);
  });

  it('matches each audited line to its own statement, in order (pgaudit prints the whole string on each)', () => {
    // What pgaudit logs for the simple query `BEGIN; SET LOCAL ROLE x; SELECT 1; ROLLBACK TO SAVEPOINT a; COMMIT`
    // sent at once: one line per statement, each with the whole text.
    const text = 'BEGIN; SAVEPOINT a; SET LOCAL ROLE x; SELECT 1; ROLLBACK TO SAVEPOINT a; COMMIT';
    const s: RoleState = {};
    const seen: (string | undefined)[] = [];
    for (const command of ['BEGIN', 'SAVEPOINT', 'SET', 'SELECT', 'ROLLBACK', 'COMMIT']) {
      observeTransaction(s, '3/7', false, true);
      seen.push(currentRole(s));
      const st = roleStatementOf(s, command, text);
      if (st !== undefined) applyRoleStatement(s, st, '3/7', 'bob');
    }
    observeTransaction(s, '3/8', false, true);
    // SELECT 1 ran as x; ROLLBACK TO SAVEPOINT a undid it (not a full rollback); COMMIT kept the login role.
    expect(seen).toEqual([undefined, undefined, undefined, 'x', 'x', undefined]);
    expect(currentRole(s)).toBeUndefined();
  });
});
