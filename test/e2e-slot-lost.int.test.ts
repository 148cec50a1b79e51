import { waitFor } from '@vigie/runtime';
import {
  STACK,
  startPrivatePostgres,
  startService,
  testKafka,
  type PrivatePostgres,
  type RunningService,
  LOCAL_KAFKA_TOPICS,
} from '@vigie/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALWAYS_BUSINESS_HOURS, startDetector, suffix, uniqueTopics, writePolicy } from './support/e2e.js';

// A replication slot lost while its collector was stopped is a permanent gap in change data: the collector reports
// it and the detector raises a critical replication-slot-risk alert. A private server with 1 MB of slot WAL
// retention keeps the shared cluster out of it.
const id = suffix();
const cluster = `e2e-slot-${id}`;
const topics = uniqueTopics(id);
let server: PrivatePostgres;
let db: pg.Client;
let detector: Awaited<ReturnType<typeof startDetector>>;
const running: RunningService[] = [];

function collectorConfig(): Record<string, unknown> {
  return {
    cluster,
    connection: { host: '127.0.0.1', port: server.port, database: 'lost_db', user: 'postgres' },
    setup: { user: 'postgres' },
    slot: 'vigie_slot',
    publication: 'vigie_pub',
    health: { intervalMs: 1000 },
    kafka: { brokers: [...STACK.kafkaBrokers], topics: LOCAL_KAFKA_TOPICS },
    topics: { changes: topics.changes, activity: topics.activity },
  };
}

beforeAll(async () => {
  server = await startPrivatePostgres({
    // 1 MB segments so that 1 MB of slot retention can be exceeded in seconds (max_wal_size >= 2 segments).
    walSegmentSizeMb: 1,
    settings: { max_slot_wal_keep_size: '1MB', min_wal_size: '2MB', max_wal_size: '4MB' },
  });
  const admin = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query('CREATE DATABASE lost_db');
  await admin.end();
  db = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', database: 'lost_db' });
  await db.connect();
  await db.query('CREATE TABLE filler (id int, v text)');
  const policy = writePolicy(cluster, ALWAYS_BUSINESS_HOURS);
  detector = await startDetector(cluster, policy, topics);
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await detector?.detector.stop();
  await db?.end();
  await server?.stop();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
});

describe('end to end: a lost replication slot', () => {
  it('is reported by the collector and raises one critical alert', async () => {
    const first = await startService('collector-replication', collectorConfig());
    await db.query("INSERT INTO filler VALUES (1, 'streamed')");
    await first.stop();

    // Write well past max_slot_wal_keep_size and checkpoint until the server invalidates the slot.
    await waitFor(
      async () => {
        await db.query("INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g");
        await db.query('SELECT pg_switch_wal()');
        await db.query('CHECKPOINT');
        const { rows } = await db.query<{ wal_status: string }>(
          "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'vigie_slot'",
        );
        return rows[0]?.wal_status === 'lost';
      },
      { timeoutMs: 60_000, intervalMs: 10, what: 'the slot to be lost' },
    );

    // Running, but not ready: its readiness names the lost slot.
    running.push(await startService('collector-replication', collectorConfig(), { waitFor: 'healthz' }));
    const alert = await waitFor(
      async () => (await detector.alerts('rule=replication-slot-risk')).find((a) => a.cluster === cluster),
      { timeoutMs: 60_000, intervalMs: 500, what: 'a replication-slot-risk alert' },
    );
    expect(alert.severity).toBe('critical');
    expect(alert.id).toBe(`replication-slot-risk:${cluster}:slot:vigie_slot`);
    expect(alert.summary).toMatch(/lost/i);
    // The collector keeps reporting the slot every second: once the detector has consumed more of those reports,
    // there is still one alert (updated, never raised twice).
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const total = async () => (await admin.fetchTopicOffsets(topics.changes)).reduce((n, p) => n + Number(p.high), 0);
      const seen = await total();
      await waitFor(
        async () => {
          const high = await total();
          const [committed] = await admin.fetchOffsets({ groupId: detector.groupId, topics: [topics.changes] });
          const consumed = (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
          return high >= seen + 2 && consumed >= high;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'two more slot reports consumed by the detector' },
      );
    } finally {
      await admin.disconnect();
    }
    const all = (await detector.alerts('rule=replication-slot-risk')).filter((a) => a.cluster === cluster);
    expect(all.map((a) => a.id)).toEqual([alert.id]);
  });
});
