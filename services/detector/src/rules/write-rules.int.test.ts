import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Alert } from '@vigie/contract';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { createLogger, waitFor } from '@vigie/runtime';
import {
  LOCAL_KAFKA_TOPICS,
  ROLES,
  STACK,
  startService,
  testKafka,
  uniqueName,
  type RunningService,
} from '@vigie/testkit';
import { createDetector, type Detector } from '../app.js';
import { DetectorConfig } from '../config.js';

// The write-side rules end to end: real writes in `app` → the real replication collector (a `vigie run` child
// process) → Kafka → the real detector (in process) → its store and API.

const TOKEN = randomBytes(24).toString('hex');
const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const id = uniqueName('vigie_twr');
const cluster = id; // listed as pre-production in this test's policy only
const schema = id;
const table = `${schema}.people`;
const slot = `${id}_slot`;
const publication = `${id}_pub`;
const rogue = `${id}_rogue`; // a publication nobody declared: must raise replication-slot-risk
const topics = {
  activity: `${id}.activity`,
  egress: `${id}.egress`,
  changes: `${id}.changes`,
  alerts: `${id}.alerts`,
  deadletter: `${id}.deadletter`,
};

/** A syntactically valid NIR (13 digits + key = 97 − n mod 97), synthetic: sex, year, month, dept, commune, order. */
function nir(i: number): string {
  const body = `1${String(50 + (i % 50)).padStart(2, '0')}${String(1 + (i % 12)).padStart(2, '0')}75${String(100 + (i % 900)).padStart(3, '0')}${String(i % 1000).padStart(3, '0')}`;
  const key = 97 - Number(BigInt(body) % 97n);
  return `${body}${String(key).padStart(2, '0')}`;
}

async function adminClient(): Promise<pg.Client> {
  const c = new pg.Client({
    host: STACK.pg.host,
    port: STACK.pg.port,
    user: ROLES.superuser,
    password: ROLES.superuser,
    database: 'app',
    application_name: id,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

let db: pg.Client;
let collector: RunningService | undefined;
let detector: Detector | undefined;

async function alertsOf(rule: string): Promise<Alert[]> {
  const res = await fetch(`${detector!.url}/api/alerts?rule=${rule}&cluster=${cluster}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { alerts: { alert: Alert }[] }).alerts.map((a) => a.alert);
}

beforeAll(async () => {
  db = await adminClient();
  // The publication lists only this test's table, so the slot decodes nobody else's writes to `app`.
  await db.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${table} (id int PRIMARY KEY, nir text, note text)`);
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigie-write-rules-'));
  const policyFile = join(dir, 'policy.yaml');
  const base = loadPolicy();
  writeFileSync(
    policyFile,
    stringify({
      ...base,
      clusters: [{ name: cluster, environment: 'pre-production' }],
      personalData: { ...base.personalData, tables: [`${schema}.*`] },
    }),
  );
  collector = await startService(
    'collector-replication',
    {
      cluster,
      connection: {
        host: STACK.pg.host,
        port: STACK.pg.port,
        database: 'app',
        user: ROLES.collector,
        password: ROLES.collector,
      },
      slot,
      publication,
      topics: { changes: topics.changes, activity: topics.activity },
      kafka: { topics: LOCAL_KAFKA_TOPICS },
      health: { intervalMs: 2_000 },
      log: { level: 'warn' },
    },
    { policyFile },
  );
  const config = DetectorConfig.parse({
    profile: 'local',
    cluster,
    api: { token: TOKEN },
    http: { port: 0 },
    // The collector created its topics with its default of 3: the detector's (egress) must match (co-partitioning).
    kafka: { groupId: `${id}-group`, partitions: 3, topics: LOCAL_KAFKA_TOPICS },
    topics,
    store: { schema: id, connectionString: STORE_URL },
    alertmanager: { url: '' },
    engine: { tickIntervalMs: 1000 },
    log: { level: 'warn' },
  });
  detector = createDetector(config, {
    logger: createLogger('detector-test', { level: 'warn' }),
    policy: compilePolicy(loadPolicy(policyFile)),
  });
  await detector.start();
}, 120_000);

afterAll(async () => {
  await collector?.stop().catch(() => undefined);
  await detector?.stop().catch(() => undefined);
  // A leftover slot would retain WAL on the shared cluster forever.
  await db
    .query(
      `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`,
      [slot],
    )
    .catch(() => undefined);
  await waitFor(
    async () => {
      await db.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
        [slot],
      );
      const left = await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return left.rowCount === 0;
    },
    { timeoutMs: 15_000, what: `slot ${slot} dropped` },
  ).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${publication}, ${rogue}`).catch(() => undefined);
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.end();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
  const store = new pg.Client({ connectionString: STORE_URL });
  await store.connect();
  await store.query(`DROP SCHEMA IF EXISTS ${id} CASCADE`);
  await store.end();
}, 60_000);

describe('write-side rules through the real replication collector and detector', () => {
  it('alerts on valid NIRs written to pre-production, a mass delete, and an undeclared publication', async () => {
    const rows = 1200;
    const values = Array.from({ length: rows }, (_, i) => `(${i + 1}, '${nir(i)}', 'synthetic')`).join(',');
    await db.query(`INSERT INTO ${table} VALUES ${values}`);
    // The server's clock, not this process's (which a test may fake): the WAL's commit times come from it.
    const serverNow = (await db.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now.getTime();
    // The mass delete in one transaction; its 32-bit xid (what pgoutput carries) names the alert.
    await db.query('BEGIN');
    const { rows: x } = await db.query<{ xid: string }>('SELECT txid_current()::text AS xid');
    await db.query(`DELETE FROM ${table} WHERE id <= 1100`);
    await db.query('COMMIT');
    const xid = Number(BigInt(x[0]!.xid) & 0xffffffffn);
    await db.query(`CREATE PUBLICATION ${rogue} FOR TABLE ${table}`);

    const [preprod] = await waitFor(
      async () => {
        const list = await alertsOf('personal-data-in-preprod');
        return list.length > 0 && (list[0]?.what.rows ?? 0) >= rows ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the personal-data-in-preprod alert' },
    );
    // One alert per table and UTC day of the commit: the day of the server's commit time.
    const firstSeen = Date.parse(preprod!.firstSeen);
    expect(Math.abs(firstSeen - serverNow)).toBeLessThan(60_000);
    const day = new Date(Math.floor(firstSeen / 86_400_000) * 86_400_000).toISOString();
    expect(preprod!.id).toBe(`personal-data-in-preprod:${cluster}:${table}:${day}`);
    expect(preprod!).toMatchObject({ severity: 'critical', status: 'firing', what: { tables: [table], rows } });
    expect(preprod!.summary).toContain('column nir: 1,200 × NIR with a valid key');
    // Counts only: no NIR reaches the alert.
    expect(JSON.stringify(preprod)).not.toContain(nir(0));

    const [mass] = await waitFor(
      async () => {
        const list = await alertsOf('mass-write');
        return list.length > 0 ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the mass-write alert' },
    );
    expect(mass!.id).toBe(`mass-write:${cluster}:xid:${xid}`);
    expect(mass!).toMatchObject({ severity: 'warning', what: { tables: [table], rows: 1100 } });
    expect(mass!.summary).toContain(`1,100 rows deleted from ${table} in one transaction`);

    const risky = await waitFor(
      async () => {
        const list = await alertsOf('replication-slot-risk');
        return list.some((a) => a.id.endsWith(`:publication:app/${rogue}`)) ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the undeclared publication alert' },
    );
    expect(risky.find((a) => a.id === `replication-slot-risk:${cluster}:publication:app/${rogue}`)?.severity).toBe(
      'critical',
    );
    // The collector's own slot and publication are known: never an alert.
    expect(risky.map((a) => a.id)).not.toContain(`replication-slot-risk:${cluster}:slot:${slot}`);
    expect(risky.map((a) => a.id)).not.toContain(`replication-slot-risk:${cluster}:publication:app/${publication}`);
  }, 150_000);
});
