import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingMessage, ReliableProducer } from '@vigie/kafka';
import { waitFor } from '@vigie/runtime';
import { createReplicationCollector, type ReplicationCollector } from './app.js';
import { ReplicationConfig } from './config.js';
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
let db: pg.Client;
let collector: ReplicationCollector;

/** A producer that holds every send until released: Kafka "down" without touching the shared broker. */
function stallingProducer() {
  const held: { messages: readonly OutgoingMessage[]; ack: () => void }[] = [];
  let open = false;
  const producer: ReliableProducer = {
    send: (messages) =>
      open
        ? Promise.resolve({ rejected: [] })
        : new Promise((resolve) => held.push({ messages, ack: () => resolve({ rejected: [] }) })),
    get state() {
      return open ? ('ready' as const) : ('failing' as const);
    },
    get lastError() {
      return open ? undefined : 'stalled by the test';
    },
    stop: async () => undefined,
  };
  return {
    producer,
    held,
    release() {
      open = true;
      for (const h of held.splice(0)) h.ack();
    },
  };
}

async function metric(name: string): Promise<number> {
  const text = await collector.registry.metrics();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function confirmedFlush(slot: string): Promise<bigint> {
  const { rows } = await db.query<{ lsn: string }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return parseLsn(rows[0]!.lsn);
}

beforeAll(async () => {
  await dropLeftovers();
  database = await createTestDatabase();
  db = await admin(database);
  await db.query('CREATE TABLE t (id int, pad text)');
});

afterAll(async () => {
  await collector?.stop();
  await db?.end();
  if (database) await dropTestDatabase(database);
});

describe('backpressure', () => {
  it('stops reading while Kafka does not acknowledge, confirms nothing, then drains everything', async () => {
    const base = testConfig({ database });
    const config = ReplicationConfig.parse({ ...base, batch: { maxEvents: 50, maxPending: 200 } });
    const kafka = stallingProducer();
    collector = createReplicationCollector(config, {
      logger: testLogger(),
      policy: testPolicy('local', 'production'),
      http: false,
      producer: kafka.producer,
    });
    await collector.start();
    const before = await confirmedFlush(config.slot);

    // 20,000 transactions of ~1 kB: far more than maxPending events and than the socket buffers hold.
    await db.query(`DO $$ BEGIN FOR i IN 1..20000 LOOP
        INSERT INTO t VALUES (i, repeat('x', 1000)); COMMIT; END LOOP; END $$`);
    const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const end = parseLsn(rows[0]!.lsn);

    // Health events share the queue, so the stream stops a few transactions short of maxPending.
    await waitFor(async () => (await metric('vigie_collector_pending_events')) > 200, {
      what: 'the collector to fill its pending queue',
    });
    // Nothing can happen now, by design; give it time to prove it.
    await new Promise((r) => setTimeout(r, 1500));
    const received = await metric('vigie_replication_transactions_total');
    expect(received).toBeLessThanOrEqual(200 + 1);
    expect(received).toBeGreaterThan(150);
    // Beyond the stream's 200, only health events: one per poll (health.intervalMs), however long the stall — a
    // slow machine may see a poll or two during the wait above.
    const polls = await metric('vigie_replication_health_polls_total');
    expect(await metric('vigie_collector_pending_events')).toBeLessThanOrEqual(201 + polls);
    expect(await confirmedFlush(config.slot)).toBe(before);
    expect(collector.readiness().reasons.join()).toMatch(/kafka: stalled by the test/);

    kafka.release();
    await waitFor(async () => (await confirmedFlush(config.slot)) >= end, {
      timeoutMs: 60_000,
      what: 'every transaction confirmed after Kafka came back',
    });
    expect(await metric('vigie_replication_transactions_total')).toBeGreaterThanOrEqual(20_000);
  });
});
