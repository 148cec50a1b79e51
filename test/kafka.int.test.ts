import { STACK, testKafka, uniqueName } from '@vigie/testkit';
import { createLogger, describeError } from '@vigie/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { createBatchConsumer, createKafka, createReliableProducer, ensureTopics } from '@vigie/kafka';

const logger = createLogger('kafka-int-test', { level: 'warn' });
const SETTINGS = { brokers: STACK.kafkaBrokers, clientId: 'kafka-int-test' };
const kafka = createKafka(SETTINGS, logger);

describe("Vigie's producer and kafkajs 2.2.4 consumers against the stack broker", () => {
  const topic = uniqueName('test.kafka');
  const admin = testKafka().admin();
  beforeAll(() => admin.connect());
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('sends 10,000 keyed messages with the idempotent producer and a consumer group reads every one, in order per key', async () => {
    await ensureTopics(kafka, [topic], { partitions: 4 });
    // Creating again is a no-op, not an error.
    await ensureTopics(kafka, [topic], { partitions: 4 });

    const keys = Array.from({ length: 50 }, (_, i) => `local/6b07e274.${(0x1000 + i).toString(16)}`);
    const total = 10_000;
    const failures: string[] = [];
    const producer = createReliableProducer(SETTINGS, {
      logger,
      onStateChange: (state, error) => {
        if (state === 'failing') failures.push(describeError(error));
      },
    });
    const batch: { topic: string; key: string; value: Buffer | string }[] = [];
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i += 1) {
      const key = keys[i % keys.length] as string;
      const text = JSON.stringify({ key, seq: Math.floor(i / keys.length), note: i % 3 ? 'é' : '' });
      batch.push({ topic, key, value: i % 2 ? text : Buffer.from(text) });
      if (batch.length === 500) sends.push(producer.send(batch.splice(0)));
    }
    sends.push(producer.send(batch.splice(0)));
    await Promise.all(sends);
    // A new topic's leaders, or a just-started broker's transaction coordinator (which hands out producer ids), can
    // take a moment; any other refusal (a checksum, a sequence number) would be a bug.
    const transient =
      /LEADER|UNKNOWN_TOPIC_OR_PARTITION|NOT_ENOUGH_REPLICAS|COORDINATOR_LOAD_IN_PROGRESS|COORDINATOR_NOT_AVAILABLE|VIGIE_KAFKA_METADATA|VIGIE_KAFKA_CONNECTION/;
    expect(failures.filter((f) => !transient.test(f))).toEqual([]);
    expect(producer.state).toBe('ready');
    await producer.stop();

    const seen = new Map<string, number[]>();
    let count = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const partitions = new Set<number>();
    const javaPartitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2, 3].map((partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    }));
    const misplaced: string[] = [];
    const consumer = createBatchConsumer(kafka, {
      groupId: uniqueName('test-group'),
      topics: [topic],
      logger,
      handleBatch: async ({ messages, partition }) => {
        partitions.add(partition);
        for (const m of messages) {
          const expected = javaPartitioner({ topic, partitionMetadata, message: { key: m.key, value: null } });
          if (expected !== partition) misplaced.push(`${m.key?.toString()} on ${partition}, not ${expected}`);
          const { key, seq } = JSON.parse(m.value?.toString() ?? '{}') as { key: string; seq: number };
          expect(m.key?.toString()).toBe(key);
          let list = seen.get(key);
          if (!list) seen.set(key, (list = []));
          list.push(seq);
          count += 1;
        }
        if (count >= total) resolveDone();
      },
    });
    await consumer.start();
    await Promise.race([
      done,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`read ${count}/${total}`)), 60_000)),
    ]);
    await consumer.stop();

    expect(count).toBe(total);
    expect(seen.size).toBe(keys.length);
    for (const key of keys) {
      const seqs = seen.get(key) ?? [];
      expect(seqs).toEqual(Array.from({ length: total / keys.length }, (_, i) => i));
    }
    // Keys spread over the partitions, each on the one the Java client's murmur2 partitioner (kafkajs's default)
    // picks, in order within it.
    expect(partitions.size).toBeGreaterThan(1);
    expect(misplaced).toEqual([]);
  });

  it('commits offsets only after the handler: a second member of the group does not re-read committed messages', async () => {
    const t = uniqueName('test.commit');
    await ensureTopics(kafka, [t], { partitions: 1 });
    const producer = createReliableProducer(SETTINGS, { logger });
    await producer.send(Array.from({ length: 20 }, (_, i) => ({ topic: t, key: 'k', value: Buffer.from(String(i)) })));
    const groupId = uniqueName('test-commit-group');
    const first: string[] = [];
    const c1 = createBatchConsumer(kafka, {
      groupId,
      topics: [t],
      logger,
      handleBatch: async ({ messages }) => {
        for (const m of messages) first.push(m.value?.toString() ?? '');
      },
    });
    await c1.start();
    const deadline = Date.now() + 30_000;
    while (first.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await c1.stop();
    expect(first).toHaveLength(20);

    await producer.send([{ topic: t, key: 'k', value: Buffer.from('20') }]);
    await producer.stop();
    const second: string[] = [];
    const c2 = createBatchConsumer(kafka, {
      groupId,
      topics: [t],
      logger,
      handleBatch: async ({ messages }) => {
        for (const m of messages) second.push(m.value?.toString() ?? '');
      },
    });
    await c2.start();
    const deadline2 = Date.now() + 30_000;
    while (second.length < 1 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 50));
    await c2.stop();
    expect(second).toEqual(['20']);
    await admin.deleteTopics({ topics: [t] }).catch(() => undefined);
  });

  it('splits a send above the broker limit into requests, and refuses a single oversized message', async () => {
    const t = uniqueName('test.large');
    await ensureTopics(kafka, [t], { partitions: 1 });
    const producer = createReliableProducer(SETTINGS, { logger });
    // 3,000 events of 1 KiB for one key: 3 MiB for one partition, three times message.max.bytes.
    const events = Array.from({ length: 3000 }, (_, i) => ({
      topic: t,
      key: 'local/6b07e274.1be5',
      value: Buffer.from(JSON.stringify({ seq: i, pad: 'x'.repeat(1000) })),
    }));
    await producer.send(events);
    const offsets = await admin.fetchTopicOffsets(t);
    expect(offsets.map((o) => Number(o.high))).toEqual([3000]);

    // A single message above the broker's limit is handed back, not retried; the rest of the send lands.
    const oversized = { topic: t, key: 'k', value: Buffer.alloc(2 * 1024 * 1024, 120) };
    const { rejected } = await producer.send([
      { topic: t, key: 'k', value: Buffer.from('before') },
      oversized,
      { topic: t, key: 'k', value: Buffer.from('after') },
    ]);
    expect(rejected.map((r) => [r.message, r.error.code, r.error.retriable])).toEqual([
      [oversized, 'VIGIE_KAFKA_MESSAGE_TOO_LARGE', false],
    ]);
    expect((await admin.fetchTopicOffsets(t)).map((o) => Number(o.high))).toEqual([3002]);
    await producer.stop();
    await admin.deleteTopics({ topics: [t] }).catch(() => undefined);
  });
});
