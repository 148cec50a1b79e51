import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDeadLetter, decodeEvent, type DeadLetter, type VigieEvent } from '@vigie/contract';
import { ensureTopics } from '@vigie/kafka';
import { createLogger, validateConfig, waitFor } from '@vigie/runtime';
import {
  LOCAL_KAFKA_TOPICS,
  STACK,
  connectAs,
  readTopic,
  startPrivateKafka,
  testKafka,
  uniqueName,
  type PrivateKafka,
} from '@vigie/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createCollectorPglog, type CollectorPglog } from './app.js';
import { CollectorPglogConfig } from './config.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('collector-pglog against a broker whose message.max.bytes is below its batch size', () => {
  it('dead-letters the events Kafka refuses, delivers the rest, and the checkpoint moves past them', async () => {
    // 8 KiB: a default batch (up to 512 KiB) is refused whole, and a statement with a 2,000-value IN list is refused
    // alone. Before the fix the refused batch stayed at the head of the window: nothing more was sent, and the
    // checkpoint froze.
    const broker: PrivateKafka = await startPrivateKafka({ partitions: 1, properties: { 'message.max.bytes': 8192 } });
    cleanups.push(() => broker.destroy());
    const kafka = testKafka('pglog-small-broker', broker.brokers);
    const topics = { activity: uniqueName('pglog.small'), deadletter: uniqueName('pglog.smalldead') };
    await ensureTopics(kafka, [topics.activity, topics.deadletter], { partitions: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'vigie-pglog-small-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const checkpointFile = join(dir, 'cp.json');
    const cfg = validateConfig(
      CollectorPglogConfig,
      {
        cluster: 'local',
        source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
        checkpoint: { file: checkpointFile, intervalMs: 100, startAt: 'end' },
        kafka: { brokers: broker.brokers, topics: LOCAL_KAFKA_TOPICS },
        topics,
        http: { port: 0 },
        heartbeatIntervalMs: 3_600_000,
      },
      'test',
    );
    const collector: CollectorPglog = createCollectorPglog(cfg, {
      logger: createLogger('collector-pglog', { level: 'fatal' }),
    });
    await collector.start();
    cleanups.push(() => collector.stop());

    const app = uniqueName('pglog_small');
    const client = await connectAs('app_backend', { applicationName: app });
    const bigList = Array.from({ length: 2000 }, (_, i) => i + 1).join(', ');
    for (let i = 0; i < 300; i += 1) {
      await client.query(`SELECT id FROM public.citizens WHERE id = ${i + 1}`);
      if (i % 100 === 50) await client.query(`SELECT id FROM public.citizens WHERE id IN (${bigList})`);
    }
    await client.end();

    const mine = (e: VigieEvent | undefined) => e?.session?.applicationName === app;
    const activity = await readTopic(
      topics.activity,
      (ms) => ms.filter((m) => mine(decode(m.value))).some((m) => decode(m.value)?.kind === 'session.end'),
      { kafka, timeoutMs: 60_000 },
    );
    const events = activity.map((m) => decode(m.value)).filter(mine);
    const statements = events.filter((e) => e?.kind === 'statement');
    expect(statements).toHaveLength(300); // every small one, none of the three big ones
    expect(new Set(statements.map((e) => e?.id)).size).toBe(300);
    expect(events.map((e) => e?.kind).at(-1)).toBe('session.end');

    const letters = await readTopic(topics.deadletter, (ms) => ms.length >= 3, { kafka, timeoutMs: 30_000 });
    const refused = letters
      .map((m) => decodeDeadLetter(m.value ?? Buffer.alloc(0)))
      .flatMap((d) => (d.ok ? [d.value] : []))
      .filter((d: DeadLetter) => d.reason === 'kafka_rejected');
    expect(refused).toHaveLength(3);
    for (const d of refused) {
      expect(d.detail).toMatch(/^statement of \d+ bytes refused by Kafka for pglog\.small_\w+: MESSAGE_TOO_LARGE$/);
      expect(d.source.file).toMatch(/postgresql-.*\.json$/);
      expect(d.excerpt).toBe('');
    }

    // The checkpoint passed the last statement (and the refused ones before it).
    const lastOffset = Math.max(...statements.map((e) => e?.source?.offset ?? 0));
    await waitFor(
      () => {
        const cp = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { position: { offset: number } };
        return cp.position.offset > lastOffset;
      },
      { timeoutMs: 10_000, what: 'the checkpoint past the last statement' },
    );
    expect(collector.readiness()).toMatchObject({ ready: true });
  });
});

function decode(value: Buffer | null): VigieEvent | undefined {
  const d = decodeEvent(value ?? Buffer.alloc(0));
  return d.ok ? d.value : undefined;
}
