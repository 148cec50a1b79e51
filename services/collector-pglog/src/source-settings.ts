import type { AuditSettingsEvent, SettingDrift } from '@vigie/contract';
import type { LogFormat } from '@vigie/pglog';
import { patternMatcher } from '@vigie/policy';
import { VigieError } from '@vigie/errors';
import pg from 'pg';
import { PGLOG_ERRORS } from './errors.js';

/** pgaudit statement classes (`pgaudit.log` accepts these, `all`, `none`, and `-class` to subtract). */
export const PGAUDIT_CLASSES = ['read', 'write', 'function', 'role', 'ddl', 'misc', 'misc_set'] as const;
export type PgauditClass = (typeof PGAUDIT_CLASSES)[number];

/** An override a site accepts (Vigie's own store database with `pgaudit.log = none`, say): patterns, all given must match. */
export interface AllowedOverride {
  role?: string | undefined;
  database?: string | undefined;
  setting?: string | undefined;
}

/** What the check compares the server's settings with. */
export interface SettingsExpectation {
  /** Log format the collector reads: `log_destination` must include it. */
  format: LogFormat;
  /** Classes `pgaudit.log` must include, on the server and in every per-role / per-database override. */
  pgauditClasses: readonly PgauditClass[];
  allow: readonly AllowedOverride[];
}

/** One row of `pg_settings` and the per-role/per-database overrides (`pg_db_role_setting`), as read. */
export interface SettingsSnapshot {
  server: ReadonlyMap<string, string>;
  overrides: readonly { role: string; database: string; settings: ReadonlyMap<string, string> }[];
}

/** The parameters the check reads (server values and overrides). */
export const CHECKED_SETTINGS = [
  'pgaudit.log',
  'pgaudit.log_level',
  'log_connections',
  'log_disconnections',
  'log_destination',
  'logging_collector',
  'log_min_messages',
  'shared_preload_libraries',
] as const;

/** Severity order of `log_min_messages` / `pgaudit.log_level`: a message is written when its level ≥ the minimum. */
const LEVEL_RANK: Record<string, number> = {
  debug5: 0,
  debug4: 1,
  debug3: 2,
  debug2: 3,
  debug1: 4,
  debug: 4,
  info: 5,
  notice: 6,
  warning: 7,
  error: 8,
  log: 9,
  fatal: 10,
  panic: 11,
};

/**
 * The classes a `pgaudit.log` value turns on, evaluated as pgaudit does: tokens in order, `all` sets every class,
 * `-x` clears x, `none` adds nothing; case-insensitive.
 */
export function pgauditClassesOf(value: string): Set<PgauditClass> {
  const on = new Set<PgauditClass>();
  for (const raw of value.split(',')) {
    let token = raw.trim().toLowerCase();
    if (token === '') continue;
    const subtract = token.startsWith('-');
    if (subtract) token = token.slice(1).trim();
    const classes: readonly PgauditClass[] =
      token === 'all'
        ? PGAUDIT_CLASSES
        : (PGAUDIT_CLASSES as readonly string[]).includes(token)
          ? [token as PgauditClass]
          : [];
    for (const c of classes) {
      if (subtract) on.delete(c);
      else on.add(c);
    }
  }
  // misc_set is part of misc.
  if (on.has('misc')) on.add('misc_set');
  return on;
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
const isOn = (v: string) => ['on', 'true', 'yes', '1'].includes(v.trim().toLowerCase());

/** The problems of one setting value against what Vigie needs; undefined when it is fine. */
function problem(
  name: string,
  value: string,
  expect: SettingsExpectation,
  levels: { minMessages: string | undefined },
): { expected: string; found: string } | undefined {
  switch (name) {
    case 'pgaudit.log': {
      const on = pgauditClassesOf(value);
      const missing = expect.pgauditClasses.filter((c) => !on.has(c));
      return missing.length === 0
        ? undefined
        : { expected: `includes ${expect.pgauditClasses.join(',')}`, found: value };
    }
    case 'log_connections':
    case 'log_disconnections':
    case 'logging_collector':
      return isOn(value) ? undefined : { expected: 'on', found: value };
    case 'log_destination':
      return list(value).includes(expect.format) ? undefined : { expected: `includes ${expect.format}`, found: value };
    case 'shared_preload_libraries':
      return list(value).includes('pgaudit') ? undefined : { expected: 'includes pgaudit', found: value };
    case 'log_min_messages':
      // pgaudit writes at LOG: a minimum above it (fatal, panic) silences every audit line.
      return (LEVEL_RANK[value.toLowerCase()] ?? 0) <= LEVEL_RANK['log']!
        ? undefined
        : { expected: 'log or lower', found: value };
    case 'pgaudit.log_level': {
      const min = LEVEL_RANK[(levels.minMessages ?? 'warning').toLowerCase()] ?? 7;
      return (LEVEL_RANK[value.toLowerCase()] ?? 9) >= min
        ? undefined
        : { expected: `at or above log_min_messages (${levels.minMessages ?? 'warning'})`, found: value };
    }
    default:
      return undefined;
  }
}

/**
 * Compares the server's effective settings and every per-role / per-database override with what Vigie needs to see
 * reads, connections and its log; returns what drifted and how many values were compared. Overrides a site
 * allows are skipped.
 */
export function compareSettings(
  snapshot: SettingsSnapshot,
  expect: SettingsExpectation,
): { checked: number; drift: SettingDrift[] } {
  const allowed = expect.allow.map((a) => ({
    role: a.role === undefined ? () => true : patternMatcher([a.role]),
    database: a.database === undefined ? () => true : patternMatcher([a.database]),
    setting: a.setting === undefined ? () => true : patternMatcher([a.setting]),
  }));
  const drift: SettingDrift[] = [];
  let checked = 0;
  const serverMin = snapshot.server.get('log_min_messages');
  for (const name of CHECKED_SETTINGS) {
    const value = snapshot.server.get(name);
    if (value === undefined) {
      // pgaudit's parameters exist only when the library is loaded: their absence is the drift.
      if (name.startsWith('pgaudit.')) {
        drift.push({ setting: name, scope: 'server', expected: 'pgaudit loaded', found: '(unknown parameter)' });
      }
      continue;
    }
    checked += 1;
    const p = problem(name, value, expect, { minMessages: serverMin });
    if (p !== undefined) drift.push({ setting: name, scope: 'server', ...p });
  }
  for (const o of snapshot.overrides) {
    const min = o.settings.get('log_min_messages') ?? serverMin;
    for (const [name, value] of o.settings) {
      if (!(CHECKED_SETTINGS as readonly string[]).includes(name)) continue;
      checked += 1;
      const p = problem(name, value, expect, { minMessages: min });
      if (p === undefined) continue;
      if (allowed.some((a) => a.role(o.role) && a.database(o.database) && a.setting(name))) continue;
      const scope = o.role !== '' && o.database !== '' ? 'role-database' : o.role !== '' ? 'role' : 'database';
      drift.push({
        setting: name,
        scope,
        ...(o.role !== '' && { role: o.role }),
        ...(o.database !== '' && { database: o.database }),
        ...p,
      });
    }
  }
  return { checked, drift };
}

/** `name=value` entries of `pg_db_role_setting.setconfig`, names lower-cased. */
export function parseSetconfig(entries: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of entries) {
    const at = e.indexOf('=');
    if (at > 0) out.set(e.slice(0, at).trim().toLowerCase(), e.slice(at + 1));
  }
  return out;
}

const SERVER_SQL = `SELECT name, setting FROM pg_catalog.pg_settings WHERE name = ANY($1::text[])`;
// pg_db_role_setting is readable by every role; role 0 / database 0 mean "all roles" / "all databases".
const OVERRIDES_SQL = `
SELECT COALESCE(r.rolname, '') AS role, COALESCE(d.datname, '') AS database, s.setconfig
  FROM pg_catalog.pg_db_role_setting s
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
  LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase`;

/** Reads the snapshot through one short connection. Throws VIGIE_PGLOG_SETTINGS_CHECK (retriable). */
export async function readSettings(connection: pg.ClientConfig): Promise<SettingsSnapshot> {
  const client = new pg.Client({ ...connection, application_name: 'vigie-collector-pglog settings check' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const server = await client.query<{ name: string; setting: string }>(SERVER_SQL, [[...CHECKED_SETTINGS]]);
    const overrides = await client.query<{ role: string; database: string; setconfig: string[] | null }>(OVERRIDES_SQL);
    return {
      server: new Map(server.rows.map((r) => [r.name, r.setting])),
      overrides: overrides.rows.map((r) => ({
        role: r.role,
        database: r.database,
        settings: parseSetconfig(r.setconfig ?? []),
      })),
    };
  } catch (cause) {
    throw new VigieError(PGLOG_ERRORS.SETTINGS_CHECK, 'could not read the server settings for the audit check', {
      retriable: true,
      cause,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The `audit.settings` event of one check (sent at every check: an empty drift clears an earlier one). */
export function auditSettingsEvent(
  cluster: string,
  instance: string,
  result: { checked: number; drift: SettingDrift[] },
  now: Date,
): AuditSettingsEvent {
  return {
    v: 1,
    id: `${cluster}:audit-settings:${instance}:${now.toISOString()}`,
    kind: 'audit.settings',
    cluster,
    ts: now.toISOString(),
    checked: result.checked,
    drift: result.drift,
  };
}
