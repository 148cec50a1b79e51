import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, type VigieEvent } from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import { LOCAL_KAFKA_TOPICS, readTopic, startPrivatePostgres, uniqueName, type PrivatePostgres } from '@vigie/testkit';
import { createReplicationCollector, type ReplicationCollector } from './app.js';
import { ReplicationConfig } from './config.js';
import { formatLsn, parseLsn } from './lsn.js';
import { ensureReplication } from './setup-replication.js';
import { createReplicationSource } from './source-replication.js';
import { testLogger, testPolicy } from '../test-support/fixtures.js';

// These tests break things (a 5 s wal_sender_timeout, a slot allowed to fall 1 MB behind): on a private server,
// never on the shared cluster.
let server: PrivatePostgres;
const collectors: ReplicationCollector[] = [];

async function connect(database: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', database });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

function configFor(database: string, slot: string): ReplicationConfig {
  return ReplicationConfig.parse({
    cluster: 'private',
    connection: { host: '127.0.0.1', port: server.port, database, user: 'postgres' },
    setup: { user: 'postgres' },
    slot,
    publication: 'vigie_pub',
    topics: { changes: uniqueName('vigie.test.changes'), activity: uniqueName('vigie.test.activity') },
    health: { intervalMs: 60_000 },
    reconnect: { maxBackoffMs: 500 },
    kafka: { topics: LOCAL_KAFKA_TOPICS },
  });
}

function start(config: ReplicationConfig): ReplicationCollector {
  const c = createReplicationCollector(config, {
    logger: testLogger(),
    policy: testPolicy('private', 'production'),
    http: false,
  });
  collectors.push(c);
  return c;
}

function events(ms: { value: Buffer | null }[]): VigieEvent[] {
  return ms.flatMap((m) => {
    const d = m.value ? decodeEvent(m.value) : undefined;
    return d?.ok ? [d.value] : [];
  });
}

async function slotState(c: pg.Client, slot: string) {
  const { rows } = await c.query<{ active_pid: number | null; lsn: string; wal_status: string }>(
    'SELECT active_pid, confirmed_flush_lsn::text AS lsn, wal_status FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows[0];
}

beforeAll(async () => {
  server = await startPrivatePostgres({
    walSegmentSizeMb: 1,
    settings: { wal_sender_timeout: '5s', max_slot_wal_keep_size: '1MB', min_wal_size: '2MB', max_wal_size: '4MB' },
  });
  const c = await connect('postgres');
  await c.query('CREATE DATABASE idle_db');
  await c.query('CREATE DATABASE lost_db');
  await c.query('CREATE DATABASE other_db');
  await c.query('CREATE DATABASE adjacent_db');
  await c.end();
});

afterAll(async () => {
  for (const c of collectors) await c.stop().catch(() => undefined);
  await server?.stop();
});

/** Two transactions whose commit records are adjacent in the WAL (T2's starts where T1's ends). */
async function adjacentCommits(a: pg.Client, b: pg.Client): Promise<void> {
  await a.query('BEGIN');
  await a.query('INSERT INTO t VALUES (1)');
  await b.query('BEGIN');
  await b.query('INSERT INTO t VALUES (2)');
  await a.query('COMMIT');
  await b.query('COMMIT');
}

describe('on a private server', () => {
  it('confirms exactly the commit end LSN: a transaction committed right behind a confirmed one is not skipped', async () => {
    const connection = { host: '127.0.0.1', port: server.port, database: 'adjacent_db', user: 'postgres' };
    const a = await connect('adjacent_db');
    const b = await connect('adjacent_db');
    try {
      await a.query('CREATE TABLE t (id int)');
      await ensureReplication({
        connection,
        setup: connection,
        slot: 'adj_slot',
        publication: 'adj_pub',
        logger: testLogger(),
      });
      await adjacentCommits(a, b);

      // Phase 1: confirm the first transaction only, then disconnect.
      const commits: { start: bigint; end: bigint }[] = [];
      let first!: () => void;
      const gotFirst = new Promise<void>((r) => (first = r));
      const phase1 = createReplicationSource({
        connection,
        slot: 'adj_slot',
        publication: 'adj_pub',
        logger: testLogger(),
        handler: {
          onMessage(_lsn, m) {
            if (m.tag !== 'commit') return;
            commits.push({ start: parseLsn(m.commitLsn!), end: parseLsn(m.commitEndLsn!) });
            if (commits.length === 1) {
              phase1.confirm(commits[0]!.end);
              first();
            }
          },
          onDisconnect: () => undefined,
          isSettled: () => false,
        },
      });
      phase1.start();
      await gotFirst;
      await waitFor(() => commits.length === 2, { what: 'second commit' });
      await phase1.stop();
      // The case that matters: the second commit record starts exactly where the first ended (the library's own
      // acknowledge(end) would confirm end + 1, past its start, and the server would never send it again).
      expect(formatLsn(commits[1]!.start)).toBe(formatLsn(commits[0]!.end));
      expect((await slotState(a, 'adj_slot'))?.lsn).toBe(formatLsn(commits[0]!.end));

      // Phase 2: the second transaction comes again.
      const seen: bigint[] = [];
      const phase2 = createReplicationSource({
        connection,
        slot: 'adj_slot',
        publication: 'adj_pub',
        logger: testLogger(),
        handler: {
          onMessage(_lsn, m) {
            if (m.tag === 'commit') seen.push(parseLsn(m.commitLsn!));
          },
          onDisconnect: () => undefined,
          isSettled: () => false,
        },
      });
      phase2.start();
      await waitFor(() => seen.length > 0, { what: 'redelivery' });
      await phase2.stop();
      expect(seen[0]).toBe(commits[1]!.start);
    } finally {
      await a.query("SELECT pg_drop_replication_slot('adj_slot')").catch(() => undefined);
      await a.end();
      await b.end();
    }
  });

  it('keeps an idle stream up past wal_sender_timeout and confirms idle progress made in other databases', async () => {
    const config = configFor('idle_db', 'idle_slot');
    const collector = start(config);
    await collector.start();
    const db = await connect('idle_db');
    const other = await connect('other_db');
    try {
      await db.query('CREATE TABLE t (id int)');
      await db.query('INSERT INTO t VALUES (1)');
      await readTopic(config.topics.changes, (ms) => events(ms).some((e) => e.kind === 'change.txn'));
      const before = await waitFor(async () => (await slotState(db, 'idle_slot'))?.active_pid, { what: 'walsender' });

      // The point is elapsed time: 12 s idle is more than twice the 5 s timeout. Meanwhile another database
      // writes: its WAL must not stay pinned by our slot.
      await other.query('CREATE TABLE filler (v text)');
      const deadline = Date.now() + 12_000;
      const afterWrite = (await other.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!;
      while (Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));

      const after = await slotState(db, 'idle_slot');
      expect(after?.active_pid).toBe(before);
      const metrics = await collector.registry.metrics();
      expect(metrics).toMatch(
        /vigie_replication_reconnects_total\{[^}]*\} 0|^(?![\s\S]*vigie_replication_reconnects_total\{)/,
      );
      expect(parseLsn(after!.lsn) >= parseLsn(afterWrite.lsn)).toBe(true);

      await db.query('INSERT INTO t VALUES (2), (3)');
      await readTopic(config.topics.changes, (ms) =>
        events(ms).some((e) => e.kind === 'change.txn' && e.totalRows === 2),
      );
    } finally {
      // Its slot would be lost too by the next test's WAL flood (1 MB of retention): end it here.
      await collector.stop();
      await db.query("SELECT pg_drop_replication_slot('idle_slot')").catch(() => undefined);
      await db.end();
      await other.end();
    }
  });

  it('reports a slot lost while the collector was stopped (event, metric, readiness)', async () => {
    const config = configFor('lost_db', 'lost_slot');
    const first = start(config);
    await first.start();
    const db = await connect('lost_db');
    try {
      await db.query('CREATE TABLE filler (id int, v text)');
      await readTopic(config.topics.changes, () => true, { timeoutMs: 2000 }).catch(() => []);
      await first.stop();

      // Write well past max_slot_wal_keep_size and checkpoint until the server invalidates the slot.
      await waitFor(
        async () => {
          await db.query("INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g");
          await db.query('SELECT pg_switch_wal()');
          await db.query('CHECKPOINT');
          return (await slotState(db, 'lost_slot'))?.wal_status === 'lost';
        },
        { timeoutMs: 60_000, intervalMs: 10, what: 'slot lost' },
      );

      const second = start(config);
      await second.start();
      const snapshot = await second.pollHealth();
      expect(snapshot?.slots.find((s) => s.slot === 'lost_slot')).toMatchObject({ walStatus: 'lost', known: true });
      const read = await readTopic(config.topics.changes, (ms) =>
        events(ms).some((e) => e.kind === 'replication.slot' && e.slot === 'lost_slot' && e.walStatus === 'lost'),
      );
      expect(events(read).some((e) => e.kind === 'replication.slot' && e.walStatus === 'lost')).toBe(true);
      expect(await second.registry.metrics()).toMatch(
        /vigie_replication_slot_wal_status\{slot="lost_slot",status="lost"[^}]*\} 1/,
      );
      await waitFor(() => second.readiness().reasons.some((r) => r.includes('VIGIE_REPLICATION_SLOT_LOST')), {
        what: 'readiness names the lost slot',
      });
    } finally {
      await db.end();
    }
  });
});
