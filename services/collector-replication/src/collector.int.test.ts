import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeEvent,
  sessionIdOf,
  type ChangeTxnEvent,
  type CollectorHeartbeatEvent,
  type VigieEvent,
} from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import { readTopic } from '@vigie/testkit';
import { createReplicationCollector, type ReplicationCollector } from './app.js';
import type { ReplicationConfig } from './config.js';
import { parseLsn } from './lsn.js';
import {
  admin,
  createTestDatabase,
  dropLeftovers,
  dropTestDatabase,
  testConfig,
  testLogger,
  testPolicy,
} from '../test-support/fixtures.js';

let database: string;
let config: ReplicationConfig;
let collector: ReplicationCollector;
let db: pg.Client;

function events(messages: { value: Buffer | null }[]): VigieEvent[] {
  return messages.flatMap((m) => {
    const d = m.value ? decodeEvent(m.value) : undefined;
    return d?.ok ? [d.value] : [];
  });
}

beforeAll(async () => {
  await dropLeftovers();
  database = await createTestDatabase();
  db = await admin(database);
  await db.query(`
    CREATE TABLE people (id int PRIMARY KEY, nir text, email text, note text);
    CREATE TABLE claims (id int PRIMARY KEY, amount int);
    CREATE TABLE payments (id int PRIMARY KEY, iban text);`);
  config = testConfig({ database, cluster: 'preprod1' });
  collector = createReplicationCollector(config, {
    logger: testLogger(),
    policy: testPolicy('preprod1', 'pre-production'),
    http: false,
  });
  await collector.start();
});

afterAll(async () => {
  await collector?.stop();
  await db?.end();
  if (database) await dropTestDatabase(database);
});

async function txn(sql: string): Promise<number> {
  await db.query('BEGIN');
  const { rows } = await db.query<{ xid: string }>('SELECT txid_current()::text AS xid');
  await db.query(sql);
  await db.query('COMMIT');
  // txid_current() is epoch-extended (64 bit); pgoutput and the log carry the 32-bit xid.
  return Number(BigInt(rows[0]!.xid) & 0xffffffffn);
}

describe('collector-replication against the real server and broker', () => {
  it('publishes one change.txn per transaction with exact per-table counts and annotations', async () => {
    const x1 = await txn(`INSERT INTO people SELECT g, NULL, NULL, 'n' FROM generate_series(1, 3) g;
                          INSERT INTO claims SELECT g, g * 10 FROM generate_series(1, 2) g`);
    const x2 = await txn(`UPDATE people SET note = 'm' WHERE id <= 2; DELETE FROM claims WHERE id = 1`);
    const x3 = await txn(`TRUNCATE people, claims`);
    const x4 = await txn(`INSERT INTO people VALUES (10, NULL, NULL, 'x');
      SELECT pg_logical_emit_message(true, 'vigie.bastion', 'operator=alice ticket=OPS-123');
      SELECT pg_logical_emit_message(true, 'someone-else', 'ignored')`);
    const xids = [x1, x2, x3, x4];

    const read = await readTopic(
      config.topics.changes,
      (ms) => xids.every((x) => events(ms).some((e) => e.kind === 'change.txn' && e.xid === x)),
      { timeoutMs: 30_000 },
    );
    const txns = new Map(
      events(read)
        .filter((e): e is ChangeTxnEvent => e.kind === 'change.txn')
        .map((e) => [e.xid, e]),
    );
    const t = (x: number) => txns.get(x)!;
    expect(t(x1).tables).toEqual([
      { table: 'public.claims', insert: 2, update: 0, delete: 0, truncate: 0 },
      { table: 'public.people', insert: 3, update: 0, delete: 0, truncate: 0 },
    ]);
    expect(t(x1).totalRows).toBe(5);
    expect(t(x2).tables).toEqual([
      { table: 'public.claims', insert: 0, update: 0, delete: 1, truncate: 0 },
      { table: 'public.people', insert: 0, update: 2, delete: 0, truncate: 0 },
    ]);
    expect(t(x3).tables).toEqual([
      { table: 'public.claims', insert: 0, update: 0, delete: 0, truncate: 1 },
      { table: 'public.people', insert: 0, update: 0, delete: 0, truncate: 1 },
    ]);
    expect(t(x4).messages).toEqual([
      { prefix: 'vigie.bastion', content: 'operator=alice ticket=OPS-123', transactional: true },
    ]);
    expect(t(x4).id).toBe(`preprod1:txn:${t(x4).commitLsn}`);
    expect(parseLsn(t(x4).commitLsn) > parseLsn(t(x1).commitLsn)).toBe(true);

    // The slot is confirmed past the last commit only after Kafka has it (it is in the topic: we just read it).
    const last = parseLsn(t(x4).commitLsn);
    await waitFor(
      async () => {
        const { rows } = await db.query<{ lsn: string }>(
          'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
          [config.slot],
        );
        return rows[0] && parseLsn(rows[0].lsn) > last;
      },
      { timeoutMs: 15_000, what: 'slot confirmed past the last commit' },
    );
  });

  it('counts personal data written to a pre-production cluster without any value reaching Kafka', async () => {
    const nirs = ['269054958815780', '185057800608491', '155052A00100189'];
    const iban = 'FR14 2004 1010 0505 0001 3M02 606';
    const xid = await txn(`
      INSERT INTO people VALUES (101, '${nirs[0]}', 'jeanne.martin@example.fr', 'tel 06 12 34 56 78'),
                                (102, '${nirs[1]}', NULL, NULL),
                                (103, '${nirs[2]}', NULL, NULL),
                                (104, '269054958815781', NULL, 'bad key: not a NIR');
      INSERT INTO payments VALUES (1, '${iban}'), (2, 'FR14 2004 1010 0505 0001 3M02 607')`);
    const read = await readTopic(
      config.topics.changes,
      (ms) => events(ms).some((e) => e.kind === 'change.txn' && e.xid === xid),
      { timeoutMs: 30_000 },
    );
    const raw = read.map((m) => m.value?.toString('utf8') ?? '').join('\n');
    const ev = events(read).find((e): e is ChangeTxnEvent => e.kind === 'change.txn' && e.xid === xid)!;
    expect(ev.personalData).toEqual([
      { table: 'public.payments', column: 'iban', type: 'iban', count: 1 },
      { table: 'public.people', column: 'email', type: 'email', count: 1 },
      { table: 'public.people', column: 'nir', type: 'nir', count: 3 },
      { table: 'public.people', column: 'note', type: 'phone_fr', count: 1 },
    ]);
    for (const secret of [...nirs, '20041010', 'jeanne.martin', '06 12 34']) expect(raw).not.toContain(secret);
  });

  it('counts a 200,000-row transaction exactly while streaming it (no row is held)', async () => {
    const xid = await txn(`INSERT INTO claims SELECT g, g FROM generate_series(1000, 200999) g;
                           UPDATE claims SET amount = 0 WHERE id < 51000; DELETE FROM claims WHERE id >= 200000`);
    const read = await readTopic(
      config.topics.changes,
      (ms) => events(ms).some((e) => e.kind === 'change.txn' && e.xid === xid),
      { timeoutMs: 60_000 },
    );
    const ev = events(read).find((e): e is ChangeTxnEvent => e.kind === 'change.txn' && e.xid === xid)!;
    expect(ev.tables).toEqual([{ table: 'public.claims', insert: 200_000, update: 50_000, delete: 1000, truncate: 0 }]);
    expect(ev.totalRows).toBe(251_000);
  });

  it('reports slots and publications, unknown ones as such, with retained WAL', async () => {
    await db.query(`CREATE PUBLICATION rogue_${config.slot.slice(-12)} FOR TABLE people`);
    const snapshot = await collector.pollHealth();
    expect(snapshot).toBeDefined();
    const own = snapshot!.slots.find((s) => s.slot === config.slot)!;
    expect(own).toMatchObject({ known: true, plugin: 'pgoutput', slotType: 'logical', active: true });
    expect(own.retainedWalBytes).toBeGreaterThanOrEqual(0);
    const pubs = snapshot!.publications.filter((p) => p.database === database);
    expect(pubs.map((p) => [p.publication, p.known, p.allTables]).sort()).toEqual(
      [
        [config.publication, true, true],
        [`rogue_${config.slot.slice(-12)}`, false, false],
      ].sort(),
    );
    const read = await readTopic(
      config.topics.changes,
      (ms) =>
        events(ms).some((e) => e.kind === 'replication.publication' && !e.known) &&
        events(ms).some((e) => e.kind === 'replication.slot' && e.slot === config.slot),
      { timeoutMs: 20_000 },
    );
    expect(events(read).some((e) => e.kind === 'replication.slot' && e.slot === config.slot)).toBe(true);
    const metrics = await collector.registry.metrics();
    expect(metrics).toMatch(new RegExp(`vigie_replication_slot_known\\{slot="${config.slot}"[^}]*\\} 1`));
    expect(metrics).toMatch(/vigie_replication_publications_unknown\{[^}]*\} 1/);
    // Its heartbeats announce who it connects as and the sessions it holds, as the server sees them: the
    // walsender streaming its slot (the slot's active pid) is among them, with the session id the log prints.
    const { rows } = await db.query<{ pid: number; start: number; usename: string; backend_type: string }>(
      `SELECT a.pid, extract(epoch FROM a.backend_start)::float8 AS start, a.usename, a.backend_type
         FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.slot_name = $1`,
      [config.slot],
    );
    const walsender = rows[0]!;
    const announced = (e: VigieEvent) =>
      e.kind === 'collector.heartbeat' &&
      (e.identities ?? []).some((i) => i.sessionId === sessionIdOf(walsender.start, walsender.pid));
    const beats = await readTopic(config.topics.activity, (ms) => events(ms).some(announced), {
      timeoutMs: 30_000,
    });
    expect(events(beats).find((e) => e.kind === 'collector.heartbeat')).toMatchObject({
      collector: 'collector-replication',
      cluster: 'preprod1',
      accounts: [config.connection.user],
    });
    const beat = events(beats).find(announced) as CollectorHeartbeatEvent;
    expect(beat.health?.state).toBe('ok');
    expect(beat.identities?.find((i) => i.replication)).toMatchObject({
      role: walsender.usename,
      replication: true,
      pid: walsender.pid,
      applicationName: 'vigie-collector-replication',
      clientAddr: '127.0.0.1',
      account: 'vigie',
    });
    // Its health connection is announced too (a client backend of the same role).
    expect(beat.identities?.some((i) => !i.replication && i.applicationName.endsWith('-health'))).toBe(true);
  });
});
