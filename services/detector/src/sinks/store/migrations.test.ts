import { describe, expect, it } from 'vitest';
import { MIGRATIONS, RUNTIME_GRANTS } from './migrations.js';

describe('store migrations', () => {
  it('give the runtime role an explicit grant line for every table they create (else it could not use it)', () => {
    const created = MIGRATIONS.flatMap((m) => [...m.sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/gi)])
      .map((match) => match[1])
      .concat('schema_migrations');
    expect(Object.keys(RUNTIME_GRANTS).sort()).toEqual([...new Set(created)].sort());
  });

  it('never grant the runtime role a way to remove or rewrite the schema of the evidence', () => {
    expect(RUNTIME_GRANTS['alerts']).toEqual(['SELECT', 'INSERT', 'UPDATE']);
    expect(RUNTIME_GRANTS['role_last_seen']).toEqual(['SELECT', 'INSERT', 'UPDATE']);
    for (const privileges of Object.values(RUNTIME_GRANTS)) {
      expect(privileges.filter((p) => !['SELECT', 'INSERT', 'UPDATE', 'DELETE'].includes(p))).toEqual([]);
    }
  });
});
