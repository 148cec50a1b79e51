import { describe, expect, it } from 'vitest';
import { compareSettings, parseSetconfig, pgauditClassesOf, type SettingsSnapshot } from './source-settings.js';

const GOOD = new Map([
  ['pgaudit.log', 'read,write,role,ddl,misc'],
  ['pgaudit.log_level', 'log'],
  ['log_connections', 'on'],
  ['log_disconnections', 'on'],
  ['log_destination', 'jsonlog,csvlog'],
  ['logging_collector', 'on'],
  ['log_min_messages', 'warning'],
  ['shared_preload_libraries', 'pgaudit'],
]);
const expectation = {
  format: 'jsonlog' as const,
  pgauditClasses: ['read', 'write', 'role', 'ddl', 'misc'] as const,
  allow: [],
};
const snapshot = (server: Record<string, string> = {}, overrides: SettingsSnapshot['overrides'] = []) => ({
  server: new Map([...GOOD, ...Object.entries(server)]),
  overrides,
});

describe('pgaudit.log classes, evaluated as pgaudit does', () => {
  it.each([
    ['read,write', ['read', 'write']],
    [' ALL , -ddl', ['read', 'write', 'function', 'role', 'misc', 'misc_set']],
    ['none', []],
    ['-read, read', ['read']],
    ['read, -read', []],
    ['misc', ['misc', 'misc_set']],
    ['reads', []],
  ])('%s', (value, classes) => {
    expect([...pgauditClassesOf(value)].sort()).toEqual([...classes].sort());
  });
});

describe('settings compared with what Vigie needs', () => {
  it('finds nothing on a server set up as the README says', () => {
    expect(compareSettings(snapshot(), expectation)).toEqual({ checked: 8, drift: [] });
  });

  it('names each server setting that drifted, with what was expected and found', () => {
    const { drift } = compareSettings(
      snapshot({
        'pgaudit.log': 'write, ddl, role, misc',
        log_connections: 'off',
        log_destination: 'csvlog',
        logging_collector: 'off',
        log_min_messages: 'fatal',
        shared_preload_libraries: 'pg_stat_statements',
      }),
      expectation,
    );
    expect(drift).toEqual([
      {
        setting: 'pgaudit.log',
        scope: 'server',
        expected: 'includes read,write,role,ddl,misc',
        found: 'write, ddl, role, misc',
      },
      // log_min_messages fatal silences LOG lines: pgaudit.log_level log is below it.
      { setting: 'pgaudit.log_level', scope: 'server', expected: 'at or above log_min_messages (fatal)', found: 'log' },
      { setting: 'log_connections', scope: 'server', expected: 'on', found: 'off' },
      { setting: 'log_destination', scope: 'server', expected: 'includes jsonlog', found: 'csvlog' },
      { setting: 'logging_collector', scope: 'server', expected: 'on', found: 'off' },
      { setting: 'log_min_messages', scope: 'server', expected: 'log or lower', found: 'fatal' },
      {
        setting: 'shared_preload_libraries',
        scope: 'server',
        expected: 'includes pgaudit',
        found: 'pg_stat_statements',
      },
    ]);
  });

  it('says pgaudit is not loaded when its parameters are unknown to the server', () => {
    const server = new Map(GOOD);
    server.delete('pgaudit.log');
    server.delete('pgaudit.log_level');
    const { drift } = compareSettings({ server, overrides: [] }, expectation);
    expect(drift.map((d) => [d.setting, d.found])).toEqual([
      ['pgaudit.log', '(unknown parameter)'],
      ['pgaudit.log_level', '(unknown parameter)'],
    ]);
  });

  it('checks per-role and per-database overrides, except those the site allows', () => {
    const overrides = [
      { role: 'mallory', database: '', settings: parseSetconfig(['pgaudit.log=none', 'search_path=x']) },
      { role: '', database: 'app', settings: parseSetconfig(['log_min_messages=panic']) },
      { role: 'bob', database: 'app', settings: parseSetconfig(['pgaudit.log=all,-read']) },
      { role: '', database: 'vigie', settings: parseSetconfig(['pgaudit.log=none']) },
    ];
    const { checked, drift } = compareSettings(snapshot({}, overrides), {
      ...expectation,
      allow: [{ database: 'vigie', setting: 'pgaudit.*' }],
    });
    expect(checked).toBe(8 + 4);
    expect(drift).toEqual([
      {
        setting: 'pgaudit.log',
        scope: 'role',
        role: 'mallory',
        expected: 'includes read,write,role,ddl,misc',
        found: 'none',
      },
      { setting: 'log_min_messages', scope: 'database', database: 'app', expected: 'log or lower', found: 'panic' },
      {
        setting: 'pgaudit.log',
        scope: 'role-database',
        role: 'bob',
        database: 'app',
        expected: 'includes read,write,role,ddl,misc',
        found: 'all,-read',
      },
    ]);
  });
});
