import { connectAs } from '@vigie/testkit';
import { describe, expect, it } from 'vitest';
import { createPrivilegedRoles, discoverPrivilegedRoles } from './privileged-roles.js';

describe('privileged roles from the real catalog', () => {
  it('finds the superuser, the pg_read_all_data member and the replication role, not the contractor', async () => {
    // Any role can read pg_roles and pg_has_role: the detector needs no special right for this.
    const client = await connectAs('contractor_bob', { applicationName: 'vigie-test-privileged' });
    try {
      const found = await discoverPrivilegedRoles(client);
      const byRole = new Map(found.map((r) => [r.role, r.reasons]));
      expect(byRole.get('admin')).toContain('superuser');
      expect(byRole.get('dba_alice')).toContain('pg_read_all_data');
      expect(byRole.get('vigie_collector')).toContain('replication');
      expect(byRole.has('contractor_bob')).toBe(false);
      expect(byRole.has('app_backend')).toBe(false);
      const set = createPrivilegedRoles();
      await set.refresh('local', client);
      expect(set.isPrivileged('local', 'dba_alice')).toBe(true);
      expect(set.isPrivileged('local', 'contractor_bob')).toBe(false);
    } finally {
      await client.end();
    }
  });
});
