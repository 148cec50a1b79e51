import type { SqlAnalysis } from '@vigie/contract';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSqlAnalyzer, type SqlAnalyzer } from './analyzer.js';
import { connectionHosts } from './remote-access.js';

let analyzer: SqlAnalyzer;

beforeAll(async () => {
  analyzer = await createSqlAnalyzer();
});

const facts = (sql: string): Pick<SqlAnalysis, 'privileges' | 'remoteHosts' | 'hiddenReads'> => {
  const { privileges, remoteHosts, hiddenReads } = analyzer.analyze(sql);
  return { privileges, remoteHosts, hiddenReads };
};

describe('privilege facts from the parse tree', () => {
  it.each<[string, SqlAnalysis['privileges']]>([
    [
      "CREATE ROLE mallory LOGIN SUPERUSER BYPASSRLS PASSWORD 'secret'",
      [{ action: 'role-attributes', role: 'mallory', attributes: ['superuser', 'bypassrls'], created: true }],
    ],
    [
      'ALTER USER "Bob" WITH CREATEROLE NOREPLICATION',
      [{ action: 'role-attributes', role: 'Bob', attributes: ['createrole'], created: false }],
    ],
    [
      'CREATE ROLE eve LOGIN IN ROLE pg_read_server_files, admin',
      [{ action: 'grant-role', roles: ['pg_read_server_files', 'admin'], grantees: ['eve'] }],
    ],
    [
      'GRANT pg_read_all_data, admin TO bob, CURRENT_USER',
      [{ action: 'grant-role', roles: ['pg_read_all_data', 'admin'], grantees: ['bob', 'current_user'] }],
    ],
    ['ALTER TABLE social.payments OWNER TO admin', [{ action: 'owner-to', objectType: 'table', owner: 'admin' }]],
    ['ALTER FUNCTION f(int) OWNER TO postgres', [{ action: 'owner-to', objectType: 'function', owner: 'postgres' }]],
    ['ALTER SCHEMA s OWNER TO CURRENT_USER', [{ action: 'owner-to', objectType: 'schema', owner: 'current_user' }]],
    [
      "CREATE FUNCTION s.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
      [{ action: 'security-definer', function: 's.f' }],
    ],
    ['ALTER FUNCTION g(text) SECURITY DEFINER', [{ action: 'security-definer', function: 'g' }]],
    ['SET ROLE admin', [{ action: 'set-role', role: 'admin' }]],
    ["SET LOCAL ROLE 'Admin'", [{ action: 'set-role', role: 'Admin' }]],
    ['SET SESSION AUTHORIZATION postgres', [{ action: 'set-role', role: 'postgres' }]],
  ])('%s', (sql, privileges) => {
    expect(facts(sql).privileges).toEqual(privileges);
  });

  it.each([
    'REVOKE pg_read_all_data FROM bob',
    'ALTER ROLE bob NOSUPERUSER NOCREATEROLE',
    "CREATE ROLE reader LOGIN PASSWORD 'x'",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY INVOKER AS 'SELECT 1'",
    'RESET ROLE',
    'SET search_path = app',
    'GRANT SELECT ON t TO bob',
  ])('%s changes no privilege', (sql) => {
    expect(facts(sql).privileges).toBeUndefined();
  });

  it('does not serve one SET ROLE target for another from the cache (the shape hides the quoted name)', () => {
    expect(facts("SET ROLE 'alice'").privileges).toEqual([{ action: 'set-role', role: 'alice' }]);
    expect(facts("SET ROLE 'admin'").privileges).toEqual([{ action: 'set-role', role: 'admin' }]);
  });
});

describe('remote hosts and reads hidden in strings', () => {
  it('takes only the hosts of dblink connection strings, never the password', () => {
    const a = analyzer.analyze(
      "SELECT * FROM dblink('host=203.0.113.9 port=5432 user=u password=hunter2', 'SELECT nir FROM citizens') AS t(n text)",
    );
    expect(a.remoteHosts).toEqual(['203.0.113.9']);
    expect(a.dangerousFunctions).toEqual(['dblink']);
    expect(JSON.stringify(a)).not.toContain('hunter2');
    expect(facts("SELECT dblink_connect('c1', 'postgresql://u:pw@Exfil.example:6432/db')").remoteHosts).toEqual([
      'exfil.example',
    ]);
    // A named connection reaches whatever dblink_connect said: no host here.
    expect(facts("SELECT * FROM dblink('c1', 'SELECT 1') AS t(a int)").remoteHosts).toBeUndefined();
  });

  it('reads hosts of foreign servers', () => {
    expect(
      facts("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.other.example', port '5432')")
        .remoteHosts,
    ).toEqual(['db.other.example']);
    expect(facts("ALTER SERVER s OPTIONS (SET host '10.9.8.7')").remoteHosts).toEqual(['10.9.8.7']);
  });

  it('parses libpq connection strings', () => {
    expect(connectionHosts("hostaddr='10.0.0.1' host=a.example,b.example")).toEqual([
      '10.0.0.1',
      'a.example',
      'b.example',
    ]);
    expect(connectionHosts('host=$(curl)')).toEqual(['?']);
    expect(connectionHosts('dbname=app')).toEqual([]);
  });

  it('finds the relations of query_to_xml, table_to_xml and schema_to_xml strings', () => {
    expect(
      facts("SELECT query_to_xml('SELECT * FROM social.payments p JOIN citizens c USING (id)', true, false, '')")
        .hiddenReads,
    ).toEqual(['social.payments', 'citizens']);
    expect(facts("SELECT table_to_xml('public.Citizens'::regclass, true, false, '')").hiddenReads).toEqual([
      'public.citizens',
    ]);
    expect(facts("SELECT schema_to_xml('social', true, false, '')").hiddenReads).toEqual(['social.*']);
    expect(facts("SELECT query_to_xml('not sql', true, false, '')").hiddenReads).toEqual(['?']);
    expect(facts("SELECT query_to_xml($1 || 'x', true, false, '')").hiddenReads).toEqual(['?']);
    // Nested: the string's own query_to_xml string is read too.
    expect(
      facts(
        "SELECT query_to_xml('SELECT query_to_xml(''SELECT * FROM citizens'', true, false, '''')', true, false, '')",
      ).hiddenReads,
    ).toEqual(['citizens']);
  });

  it('does not serve one hidden query for another from the cache', () => {
    expect(facts("SELECT query_to_xml('SELECT * FROM a', true, false, '')").hiddenReads).toEqual(['a']);
    expect(facts("SELECT query_to_xml('SELECT * FROM b', true, false, '')").hiddenReads).toEqual(['b']);
  });
});
