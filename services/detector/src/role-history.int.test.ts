import { ROLES, connectAs, queryAs, uniqueName } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverLoginRoles } from './role-history.js';

const expired = uniqueName('hist_expired');
const forever = uniqueName('hist_forever');
const group = uniqueName('hist_group');

beforeAll(async () => {
  await queryAs(
    ROLES.superuser,
    `CREATE ROLE ${expired} LOGIN VALID UNTIL '2001-01-31 12:00:00+00';
     CREATE ROLE ${forever} LOGIN VALID UNTIL 'infinity';
     CREATE ROLE ${group} NOLOGIN`,
  );
});

afterAll(async () => {
  await queryAs(ROLES.superuser, `DROP ROLE IF EXISTS ${expired}, ${forever}, ${group}`);
});

describe('login roles from the real catalog', () => {
  it('lists login roles with their password expiry (none for infinity), not group roles', async () => {
    // Any role can read pg_roles: the detector's catalog connection needs no special right for this.
    const client = await connectAs('contractor_bob', { applicationName: 'vigie-test-roles' });
    try {
      const found = await discoverLoginRoles(client);
      const byRole = new Map(found.map((r) => [r.role, r]));
      expect(byRole.get(expired)).toEqual({ role: expired, validUntil: '2001-01-31T12:00:00.000Z' });
      expect(byRole.get(forever)).toEqual({ role: forever });
      expect(byRole.get('dba_alice')).toEqual({ role: 'dba_alice' });
      expect(byRole.has(group)).toBe(false);
      expect(found.some((r) => r.role.startsWith('pg_'))).toBe(false);
    } finally {
      await client.end();
    }
  });
});
