import pg from 'pg';
import { compilePolicy, SitePolicy, type CompiledPolicy } from '@vigie/policy';
import { createLogger, type Logger } from '@vigie/runtime';
import { LOCAL_KAFKA_TOPICS, ROLES, STACK, uniqueName } from '@vigie/testkit';
import { ReplicationConfig } from '../src/config.js';

/** Prefix of every slot, publication and database these tests create: leftovers are recognisable. */
export const TEST_PREFIX = 'vigie_trepl';

/** A quiet logger for tests (warnings and errors only). */
export function testLogger(): Logger {
  return createLogger('collector-replication-test', { level: process.env['VIGIE_TEST_LOG'] ?? 'warn' });
}

/** A policy with one cluster in the given environment. */
export function testPolicy(cluster: string, environment: 'production' | 'pre-production'): CompiledPolicy {
  return compilePolicy(
    SitePolicy.parse({
      clusters: [{ name: cluster, environment }],
      replication: { knownSlots: ['listed_slot_*'], knownPublications: ['listed_pub_*'] },
    }),
  );
}

/** Superuser connection to a database of the shared stack. */
export async function admin(database = 'app', port: number = STACK.pg.port): Promise<pg.Client> {
  const client = new pg.Client({
    host: STACK.pg.host,
    port,
    user: ROLES.superuser,
    password: ROLES.superuser,
    database,
    application_name: 'vigie-repl-test',
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Drops what an earlier, interrupted run left behind: inactive slots and idle databases with the test prefix (a
 * forgotten slot retains WAL on the shared cluster forever). Active ones belong to a concurrent run: left alone.
 */
export async function dropLeftovers(): Promise<void> {
  const c = await admin();
  try {
    // Only slots of test databases older than any running test file: the crash test's slot is inactive between
    // two collector processes, and a concurrent file must not take it for a leftover.
    await c.query(
      `SELECT pg_drop_replication_slot(s.slot_name)
         FROM pg_replication_slots s JOIN pg_database d ON d.datname = s.database
        WHERE s.slot_name LIKE $1 AND NOT s.active
          AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification < now() - interval '15 minutes'`,
      [`${TEST_PREFIX}%`],
    );
    const dbs = await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database d WHERE datname LIKE $1
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)
          AND NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.database = d.datname)
          AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification < now() - interval '15 minutes'`,
      [`${TEST_PREFIX}%`],
    );
    for (const { datname } of dbs.rows) await c.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => undefined);
  } finally {
    await c.end();
  }
}

/** A fresh database for one test file, so its slot only decodes its own writes. */
export async function createTestDatabase(): Promise<string> {
  const name = uniqueName(TEST_PREFIX + '_db');
  const c = await admin();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return name;
}

/** Drops a test database and any slot on it (a slot keeps WAL and blocks DROP DATABASE). */
export async function dropTestDatabase(name: string, port: number = STACK.pg.port): Promise<void> {
  const c = await admin('postgres', port);
  try {
    for (let i = 0; i < 50; i += 1) {
      const left = await c.query<{ slot_name: string; active_pid: number | null }>(
        'SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1',
        [name],
      );
      if (left.rowCount === 0) break;
      for (const s of left.rows) {
        if (s.active_pid) await c.query('SELECT pg_terminate_backend($1)', [s.active_pid]).catch(() => undefined);
        await c.query('SELECT pg_drop_replication_slot($1)', [s.slot_name]).catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/** A collector configuration for a test: unique slot, publication and topics, setup as the superuser. */
export function testConfig(overrides: {
  database: string;
  cluster?: string;
  port?: number;
  healthIntervalMs?: number;
}): ReplicationConfig {
  return ReplicationConfig.parse({
    cluster: overrides.cluster ?? 'local',
    connection: {
      host: STACK.pg.host,
      port: overrides.port ?? STACK.pg.port,
      database: overrides.database,
      user: ROLES.collector,
      password: ROLES.collector,
    },
    setup: { user: ROLES.superuser, password: ROLES.superuser },
    slot: uniqueName(TEST_PREFIX + '_slot'),
    publication: uniqueName(TEST_PREFIX + '_pub'),
    topics: { changes: uniqueName('vigie.test.changes'), activity: uniqueName('vigie.test.activity') },
    health: { intervalMs: overrides.healthIntervalMs ?? 60_000 },
    http: { port: 0 },
    reconnect: { maxBackoffMs: 500 },
    kafka: { topics: LOCAL_KAFKA_TOPICS },
  });
}
