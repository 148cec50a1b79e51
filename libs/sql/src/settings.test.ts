import { beforeAll, describe, expect, it } from 'vitest';
import { createSqlAnalyzer, type SqlAnalyzer } from './analyzer.js';

let analyzer: SqlAnalyzer;

beforeAll(async () => {
  analyzer = await createSqlAnalyzer();
});

describe('configuration changes', () => {
  it.each([
    ["SET pgaudit.log = 'none'", [{ name: 'pgaudit.log', scope: 'session' }]],
    ['SET LOCAL "PGAUDIT"."LOG" TO none', [{ name: 'pgaudit.log', scope: 'local' }]],
    ["set/**/pgaudit.role='auditor'", [{ name: 'pgaudit.role', scope: 'session' }]],
    ['RESET pgaudit.log', [{ name: 'pgaudit.log', scope: 'session', reset: true }]],
    ['RESET ALL', [{ name: 'all', scope: 'session', reset: true }]],
    ["ALTER SYSTEM SET log_connections = 'off'", [{ name: 'log_connections', scope: 'system' }]],
    ['ALTER SYSTEM RESET ALL', [{ name: 'all', scope: 'system', reset: true }]],
    ["ALTER ROLE mallory IN DATABASE app SET pgaudit.log TO 'none'", [{ name: 'pgaudit.log', scope: 'role' }]],
    ["ALTER USER ALL SET log_statement = 'none'", [{ name: 'log_statement', scope: 'role' }]],
    ['ALTER DATABASE app RESET pgaudit.log', [{ name: 'pgaudit.log', scope: 'database', reset: true }]],
    ["ALTER FUNCTION f() SET pgaudit.log = 'none'", [{ name: 'pgaudit.log', scope: 'function' }]],
    [
      "CREATE FUNCTION g() RETURNS int LANGUAGE sql SET pgaudit.log = 'none' AS 'select 1'",
      [{ name: 'pgaudit.log', scope: 'function' }],
    ],
    ["SELECT set_config('pgaudit.log', 'none', false)", [{ name: 'pgaudit.log', scope: 'session' }]],
    [
      "SELECT 1 FROM t WHERE pg_catalog.set_config('Log_Statement', 'none', true) = ''",
      [{ name: 'log_statement', scope: 'local' }],
    ],
    ["SELECT set_config(lower('PGAUDIT.LOG'), 'none', false)", [{ name: '?', scope: 'session' }]],
    // A literal that is not shaped like a parameter name never leaves the collector.
    ["SELECT set_config('x = 1850775123456 -- ', 'none', false)", [{ name: '?', scope: 'session' }]],
  ])('%s', (sql, settings) => {
    expect(analyzer.analyze(sql).settings).toEqual(settings);
  });

  it('leaves out what changes no parameter', () => {
    for (const sql of ['SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', 'SELECT 1', 'SELECT my.set_config($1)']) {
      expect(analyzer.analyze(sql).settings, sql).toBeUndefined();
    }
  });

  it('names dropped extensions', () => {
    expect(analyzer.analyze('DROP EXTENSION IF EXISTS "PGAudit", other CASCADE').droppedExtensions).toEqual([
      'pgaudit',
      'other',
    ]);
    expect(analyzer.analyze('DROP TABLE pgaudit').droppedExtensions).toBeUndefined();
  });

  it('never reuses a cached analysis whose setting name came from a literal', () => {
    expect(analyzer.analyze("SELECT set_config('search_path', 'x', false)").settings).toEqual([
      { name: 'search_path', scope: 'session' },
    ]);
    // Same shape (`set_config($1, $2, $3)`), another name.
    expect(analyzer.analyze("SELECT set_config('pgaudit.log', 'none', false)").settings).toEqual([
      { name: 'pgaudit.log', scope: 'session' },
    ]);
  });
});
