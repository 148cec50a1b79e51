import { mkdtempSync, readFileSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@vigie/runtime';
import {
  startPrivatePostgres,
  startService,
  testKafka,
  type PrivatePostgres,
  type RunningService,
  LOCAL_KAFKA_TOPICS,
  STACK,
} from '@vigie/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALWAYS_BUSINESS_HOURS,
  type ApiAlert,
  startDetector,
  suffix,
  uniqueTopics,
  writePolicy,
} from './support/e2e.js';

// Audit tampering against a real server: a private PostgreSQL 15 + pgaudit (it changes server settings and cuts its
// log file, which the shared cluster must never see), the real collector-pglog process with its settings check
// every second (shortened from the default minute), and the real detector.
const id = suffix();
const cluster = `e2e-tamper-${id}`;
const topics = uniqueTopics(id);
let server: PrivatePostgres;
let collector: RunningService;
let detector: Awaited<ReturnType<typeof startDetector>>;

async function as(user: string, sql: string[], database = 'postgres'): Promise<void> {
  const c = new pg.Client({ host: server.host, port: server.port, user, database });
  await c.connect();
  try {
    for (const s of sql) await c.query(s);
  } finally {
    await c.end();
  }
}

async function tampering(): Promise<ApiAlert[]> {
  return detector.alerts('rule=audit-tampering&limit=100');
}

/** Waits for the audit-tampering alert of one login whose objects include all of `objects`. */
async function alertOf(login: string, objects: string[]): Promise<ApiAlert> {
  return waitFor(
    async () =>
      (await tampering()).find(
        (a) => a.who.login === login && objects.every((o) => a.what.objects?.includes(o) === true),
      ),
    { timeoutMs: 60_000, intervalMs: 250, what: `an audit-tampering alert for ${login}: ${objects.join(', ')}` },
  );
}

beforeAll(async () => {
  server = await startPrivatePostgres({
    settings: {
      shared_preload_libraries: 'pgaudit',
      logging_collector: 'on',
      log_destination: 'jsonlog',
      log_directory: 'log',
      log_timezone: 'UTC',
      log_connections: 'on',
      log_disconnections: 'on',
      'pgaudit.log': 'read,write,role,ddl,misc',
      'pgaudit.log_relation': 'on',
    },
  });
  await as('postgres', [
    'CREATE EXTENSION pgaudit',
    'CREATE DATABASE app',
    // Superusers: log_statement = all shows the SETs pgaudit cannot (it logs a SET after it ran).
    'CREATE ROLE mallory LOGIN SUPERUSER',
    "ALTER ROLE mallory SET log_statement = 'all'",
    'CREATE ROLE eve LOGIN SUPERUSER',
    'CREATE ROLE bob LOGIN',
    // The settings check needs no more than reading settings.
    'CREATE ROLE vigie_check LOGIN IN ROLE pg_read_all_settings',
  ]);
  const policy = writePolicy(cluster, ALWAYS_BUSINESS_HOURS);
  const kafka = { brokers: [...STACK.kafkaBrokers], topics: LOCAL_KAFKA_TOPICS };
  collector = await startService(
    'collector-pglog',
    {
      cluster,
      source: { format: 'jsonlog', pgData: server.dataDir },
      checkpoint: { file: join(mkdtempSync(join(tmpdir(), 'vigie-e2e-tamper-')), 'checkpoint.json'), startAt: 'end' },
      kafka,
      topics: { activity: topics.activity, deadletter: topics.deadletter },
      settingsCheck: {
        enabled: true,
        host: server.host,
        port: server.port,
        user: 'vigie_check',
        intervalMs: 1000,
      },
    },
    { policyFile: policy },
  );
  detector = await startDetector(cluster, policy, topics, { tickIntervalMs: 1000 });
}, 180_000);

afterAll(async () => {
  await Promise.all([collector?.stop(), detector?.detector.stop()]);
  await server?.stop();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
});

describe('end to end: audit tampering on a private server', () => {
  it('the settings check is clean on a server set up as Vigie needs', async () => {
    await waitFor(async () => /vigie_pglog_settings_checks_total\{outcome="ok"[^}]*\} [1-9]/.test(await metrics()), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'a clean settings check',
    });
    expect(await metrics()).toMatch(/vigie_pglog_settings_drift[^\n]* 0\n/);
    expect(await tampering()).toEqual([]);
  });

  it('a session that turns pgaudit off or silences the log: SET seen through log_statement, set_config through pgaudit', async () => {
    await as('mallory', ["SET pgaudit.log = 'none'", "SET log_min_messages = 'panic'", 'SELECT 1']);
    await as('eve', ["SET pgaudit.role = 'auditor'", "SELECT set_config('pgaudit.log', 'none', false)"]);
    const m = await alertOf('mallory', ['SET pgaudit.log', 'SET log_min_messages']);
    expect(m).toMatchObject({ severity: 'critical', status: 'firing', database: 'postgres' });
    expect(m.where).toMatchObject({ clientAddr: '127.0.0.1', clientClass: 'non-bastion' });
    expect(m.summary).toMatch(/^audit tampering: SET pgaudit.log, SET log_min_messages by mallory from 127\.0\.0\.1/);
    expect(m.evidence.statements).toContain('SET pgaudit.log = $1');
    // pgaudit logs SET pgaudit.role (it still audits misc) and the SELECT of set_config; the value never leaves.
    const e = await alertOf('eve', ['SET pgaudit.role', 'SET pgaudit.log']);
    expect(JSON.stringify(e)).not.toContain("'none'");
  });

  it('ALTER SYSTEM then pg_reload_conf(), per-role and per-database overrides: statements and drift, then restored', async () => {
    await as('mallory', [
      "ALTER SYSTEM SET log_connections = 'off'",
      "ALTER SYSTEM SET wal_level = 'minimal'", // takes effect at the next restart: the change itself is the signal
      'SELECT pg_reload_conf()',
    ]);
    await as('eve', ["ALTER ROLE bob SET pgaudit.log = 'none'", "ALTER DATABASE app SET pgaudit.log = 'ddl'"]);
    const system = await alertOf('mallory', [
      'ALTER SYSTEM log_connections',
      'ALTER SYSTEM wal_level',
      'pg_reload_conf()',
    ]);
    expect(system.summary).toContain('applied by pg_reload_conf()');
    await alertOf('eve', ['ALTER ROLE … SET pgaudit.log', 'ALTER DATABASE … SET pgaudit.log']);
    // log_connections is only read at connection start: the reload applied it to new sessions.
    const drift = await waitFor(
      async () =>
        (await tampering()).find(
          (a) =>
            a.id === `audit-tampering:${cluster}:settings` &&
            a.status === 'firing' &&
            [
              'log_connections = off (server)',
              'pgaudit.log = none (role bob)',
              'pgaudit.log = ddl (database app)',
            ].every((o) => a.what.objects?.includes(o)),
        ),
      { timeoutMs: 60_000, intervalMs: 250, what: 'the settings drift alert' },
    );
    expect(drift.severity).toBe('critical');
    expect(drift.summary).toContain('last ALTER SYSTEM by mallory from 127.0.0.1');
    expect(drift.who).toEqual({});

    // Restored: the next clean check resolves the drift incident.
    await as('postgres', [
      'ALTER SYSTEM RESET log_connections',
      'ALTER SYSTEM RESET wal_level',
      'ALTER ROLE bob RESET pgaudit.log',
      'ALTER DATABASE app RESET pgaudit.log',
      'SELECT pg_reload_conf()',
    ]);
    const restored = await waitFor(
      async () =>
        (await tampering()).find((a) => a.id === `audit-tampering:${cluster}:settings` && a.status === 'resolved'),
      { timeoutMs: 60_000, intervalMs: 250, what: 'the drift alert resolved by a clean check' },
    );
    expect(restored.summary).toMatch(/^audit settings of e2e-tamper-\w+ restored after drift: log_connections = off/);
    // Restoring is a change of audit settings too: on-call sees who did it (a change-management exception tunes it).
    await alertOf('postgres', ['ALTER SYSTEM RESET log_connections', 'ALTER ROLE … RESET pgaudit.log']);
  });

  it('DROP EXTENSION pgaudit', async () => {
    await as('eve', ['DROP EXTENSION pgaudit']);
    await alertOf('eve', ['DROP EXTENSION pgaudit']);
    await as('postgres', ['CREATE EXTENSION pgaudit']);
  });

  it('a log file cut before the collector read it to its end', async () => {
    const current = readFileSync(join(server.dataDir, 'current_logfiles'), 'utf8').split(' ')[1]!.trim();
    const file = join(server.dataDir, current);
    // The server appends: whatever it writes next lands at the new, shorter end.
    truncateSync(file, 0);
    await as('bob', ['SELECT 1']);
    const gap = await waitFor(
      async () => (await tampering()).find((a) => a.id === `audit-tampering:${cluster}:log:${file}`),
      { timeoutMs: 60_000, intervalMs: 250, what: 'the log gap alert' },
    );
    expect(gap).toMatchObject({ severity: 'critical', what: { objects: [file] } });
    expect(gap.summary).toMatch(
      new RegExp(`^log file ${file.replace(/[.]/g, '\\.')} was cut to [\\d,]+ bytes after Vigie read [\\d,]+ bytes`),
    );
    expect(await metrics()).toMatch(/vigie_pglog_log_gaps_total\{reason="truncated"[^}]*\} 1\n/);

    // Then deleted while the server still writes to it: read to its end through the open file, and told.
    unlinkSync(file);
    await as('bob', ['SELECT 2']);
    const deleted = await waitFor(
      async () =>
        (await tampering()).find(
          (a) => a.id === `audit-tampering:${cluster}:log:${file}` && a.summary.includes('was deleted'),
        ),
      { timeoutMs: 60_000, intervalMs: 250, what: 'the log gap alert updated for the deletion' },
    );
    expect(deleted.revision).toBeGreaterThan(gap.revision);
    expect(await metrics()).toMatch(/vigie_pglog_log_gaps_total\{reason="deleted"[^}]*\} 1\n/);
    // A new file for the rest of the run.
    await as('postgres', ['SELECT pg_rotate_logfile()']);
  });
});

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${collector.port}/metrics`)).text();
}
