import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEvent, type VigieEvent } from '@vigie/contract';
import { ensureTopics } from '@vigie/kafka';
import { createLogger, validateConfig, waitFor } from '@vigie/runtime';
import {
  STACK,
  connectAs,
  startPrivateKafka,
  startService,
  testKafka,
  uniqueName,
  type Kafka,
  type PrivateKafka,
  LOCAL_KAFKA_TOPICS,
} from '@vigie/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createCollectorPglog } from './app.js';
import { CollectorPglogConfig } from './config.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-pglog-res-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Statement event ids of one application name, as they arrive (duplicates kept). */
async function collectIds(kafka: Kafka, topic: string, app: string): Promise<string[]> {
  const ids: string[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('pglog-res'), allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const d = decodeEvent(message.value ?? Buffer.alloc(0));
      const e: VigieEvent | undefined = d.ok ? d.value : undefined;
      if (e?.kind === 'statement' && e.session?.applicationName === app) ids.push(e.id);
    },
  });
  cleanups.push(() => consumer.disconnect());
  return ids;
}

/** Runs `count` one-row statements on `connections` sessions, each a distinct pgaudit statement. */
async function load(app: string, count: number, connections = 4): Promise<void> {
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = await connectAs('app_backend', { applicationName: app });
      try {
        const mine = Math.ceil(count / connections);
        const start = c * mine;
        const end = Math.min(count, start + mine);
        for (let i = start; i < end; i += 200) {
          const batch: Promise<unknown>[] = [];
          for (let j = i; j < Math.min(end, i + 200); j += 1) {
            batch.push(client.query('SELECT id FROM public.citizens WHERE id = $1', [j]));
          }
          await Promise.all(batch);
        }
      } finally {
        await client.end();
      }
    }),
  );
}

const distinct = (ids: string[]) => new Set(ids).size;

describe('collector-pglog resilience', () => {
  it('delivers 50,000 statements once each while the log rotates repeatedly', async () => {
    const dir = tempDir();
    const topics = { activity: uniqueName('pglog.rot'), deadletter: uniqueName('pglog.rotdead') };
    await ensureTopics(testKafka(), [topics.activity, topics.deadletter]);
    const cfg = validateConfig(
      CollectorPglogConfig,
      {
        source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
        checkpoint: { file: join(dir, 'cp.json'), startAt: 'end' },
        topics,
        kafka: { topics: LOCAL_KAFKA_TOPICS },
        http: { port: 0 },
      },
      'test',
    );
    const collector = createCollectorPglog(cfg, { logger: createLogger('collector-pglog', { level: 'warn' }) });
    await collector.start();
    cleanups.push(() => collector.stop());
    const app = uniqueName('pglog_rot');
    const ids = await collectIds(testKafka(), topics.activity, app);
    const admin = await connectAs('admin', { applicationName: uniqueName('pglog_rotator') });
    let rotations = 0;
    let loading = true;
    const rotator = (async () => {
      while (loading) {
        await admin.query('SELECT pg_rotate_logfile()');
        rotations += 1;
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    await load(app, 50_000);
    loading = false;
    await rotator;
    await admin.end();
    await waitFor(() => distinct(ids) >= 50_000, { timeoutMs: 180_000, intervalMs: 500, what: '50,000 statements' });
    expect(distinct(ids)).toBe(50_000);
    expect(ids.length).toBe(50_000); // no duplicate without a crash
    expect(rotations).toBeGreaterThan(5);
  });

  it('misses nothing when killed with SIGKILL mid-stream several times', async () => {
    const dir = tempDir();
    const topics = { activity: uniqueName('pglog.crash'), deadletter: uniqueName('pglog.crashdead') };
    await ensureTopics(testKafka(), [topics.activity, topics.deadletter]);
    const config = {
      source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
      checkpoint: { file: join(dir, 'cp.json'), startAt: 'end', intervalMs: 50 },
      topics,
      kafka: { topics: LOCAL_KAFKA_TOPICS },
      log: { level: 'warn' },
    };
    let service = await startService('collector-pglog', config);
    cleanups.push(() => service.kill());
    const app = uniqueName('pglog_crash');
    const ids = await collectIds(testKafka(), topics.activity, app);
    const loading = load(app, 6_000, 2);
    for (let k = 0; k < 3; k += 1) {
      await waitFor(() => distinct(ids) > (k + 1) * 1000, { timeoutMs: 60_000, what: `progress before kill ${k + 1}` });
      await service.kill();
      service = await startService('collector-pglog', config);
    }
    await loading;
    await waitFor(() => distinct(ids) >= 6_000, { timeoutMs: 120_000, intervalMs: 500, what: '6,000 statements' });
    expect(distinct(ids)).toBe(6_000);
    await service.stop();
  });

  it('stops reading while Kafka is down, stays bounded, and resumes with nothing missing', async () => {
    const broker: PrivateKafka = await startPrivateKafka();
    cleanups.push(() => broker.destroy());
    const kafka = testKafka('vigie-test', broker.brokers);
    const topics = { activity: uniqueName('pglog.outage'), deadletter: uniqueName('pglog.outdead') };
    await ensureTopics(kafka, [topics.activity, topics.deadletter], { partitions: 1 });
    const dir = tempDir();
    const cfg = validateConfig(
      CollectorPglogConfig,
      {
        source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
        checkpoint: { file: join(dir, 'cp.json'), startAt: 'end' },
        kafka: { brokers: broker.brokers, maxInFlightEvents: 2000, topics: LOCAL_KAFKA_TOPICS },
        topics,
        http: { port: 0 },
      },
      'test',
    );
    const collector = createCollectorPglog(cfg, { logger: createLogger('collector-pglog', { level: 'fatal' }) });
    await collector.start();
    cleanups.push(() => collector.stop());
    const app = uniqueName('pglog_outage');
    await load(app, 1_000, 2);
    await broker.kill();
    const during = load(app, 9_000, 2);
    await waitFor(() => !collector.readiness().ready, { timeoutMs: 60_000, what: 'readiness to report the outage' });
    expect(collector.readiness().reasons.join(' ')).toMatch(/kafka/);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, collector.stats().inFlight)), 50);
    await during;
    await new Promise((r) => setTimeout(r, 2000));
    clearInterval(sampler);
    // Bounded: the in-flight window plus at most one batch being built, whatever the log holds.
    expect(peak).toBeLessThanOrEqual(2000 + cfg.kafka.batchMaxEvents);
    await broker.start();
    const ids = await collectIds(kafka, topics.activity, app);
    await waitFor(() => distinct(ids) >= 10_000, { timeoutMs: 120_000, intervalMs: 500, what: '10,000 statements' });
    expect(distinct(ids)).toBe(10_000);
    await waitFor(() => collector.readiness().ready, { timeoutMs: 30_000, what: 'ready again' });
  });
});
