import { compilePolicy, loadPolicy, SitePolicy } from '@vigie/policy';
import { describe, expect, it } from 'vitest';
import { createPrivilegedRoles, PRIVILEGED_ROLES_SQL, type Queryable } from './privileged-roles.js';

const rows = [
  {
    rolname: 'admin',
    rolsuper: true,
    rolcreaterole: true,
    rolreplication: true,
    rolbypassrls: true,
    memberships: ['pg_read_all_data'],
  },
  {
    rolname: 'dba_alice',
    rolsuper: false,
    rolcreaterole: false,
    rolreplication: false,
    rolbypassrls: false,
    memberships: ['pg_read_all_data'],
  },
];
const fake = (fail = false): Queryable => ({
  query: <R>() => (fail ? Promise.reject(new Error('connection refused')) : Promise.resolve({ rows: rows as R[] })),
});

describe('privileged roles', () => {
  it('merges the catalog per cluster with the policy list', async () => {
    const policy = compilePolicy(SitePolicy.parse({ ...loadPolicy(), roles: { privileged: ['oncall_*'] } }));
    const set = createPrivilegedRoles({ policy });
    expect(set.isPrivileged('local', 'dba_alice')).toBe(false);
    const found = await set.refresh('local', fake());
    expect(found).toEqual([
      { role: 'admin', reasons: ['superuser', 'createrole', 'replication', 'bypassrls', 'pg_read_all_data'] },
      { role: 'dba_alice', reasons: ['pg_read_all_data'] },
    ]);
    expect(set.isPrivileged('local', 'dba_alice')).toBe(true);
    expect(set.isPrivileged('other', 'dba_alice')).toBe(false);
    expect(set.isPrivileged('other', 'oncall_bob')).toBe(true);
    expect(set.isPrivileged('local', 'contractor_bob')).toBe(false);
  });

  it('keeps the previous set when a refresh fails, with a retriable coded error', async () => {
    const set = createPrivilegedRoles({ initial: { local: ['admin'] } });
    await expect(set.refresh('local', fake(true))).rejects.toMatchObject({
      code: 'VIGIE_DETECTOR_PRIVILEGED_QUERY',
      retriable: true,
    });
    expect(set.isPrivileged('local', 'admin')).toBe(true);
  });

  it('asks for every privilege the architecture names', () => {
    for (const p of [
      'rolsuper',
      'rolcreaterole',
      'rolreplication',
      'rolbypassrls',
      'pg_write_server_files',
      'pg_execute_server_program',
    ]) {
      expect(PRIVILEGED_ROLES_SQL).toContain(p);
    }
  });
});
