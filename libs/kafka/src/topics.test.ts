import { describe, expect, it } from 'vitest';
import type { KafkaClient } from './client.js';
import { ensureTopics, survivesBrokerLoss } from './topics.js';

const unknownTopic = () =>
  Object.assign(new Error('This server does not host this topic-partition'), {
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
    retriable: true,
  });

/**
 * A stand-in for the admin client: `existing` topics with `replicas` replicas and their min.insync.replicas;
 * createTopics fails with the given errors, in order, then succeeds and remembers what it created.
 */
function fakeKafka(failures: Error[], existing: Record<string, { replicas: number; minIsr: number }> = {}) {
  const created: { topic: string; replicationFactor: number; configEntries: unknown }[][] = [];
  const topics = { ...existing };
  let calls = 0;
  const kafka = {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => {
        throw new Error('listTopics must not be used: it fails while any partition of the cluster has no leader');
      },
      fetchTopicMetadata: async ({ topics: names }: { topics: string[] }) => {
        const missing = names.find((n) => !topics[n]);
        if (missing) throw Object.assign(new Error('retries exceeded'), { originalError: unknownTopic() });
        return {
          topics: names.map((name) => ({
            name,
            partitions: [{ partitionId: 0, replicas: Array.from({ length: topics[name]!.replicas }, (_, i) => i) }],
          })),
        };
      },
      describeConfigs: async ({ resources }: { resources: { name: string }[] }) => ({
        resources: resources.map((r) => ({
          resourceName: r.name,
          configEntries: [{ configName: 'min.insync.replicas', configValue: String(topics[r.name]!.minIsr) }],
        })),
      }),
      createTopics: async ({
        topics: list,
      }: {
        topics: { topic: string; replicationFactor: number; configEntries: { name: string; value: string }[] }[];
      }) => {
        calls += 1;
        const failure = failures.shift();
        if (failure) throw failure;
        created.push(
          list.map(({ topic, replicationFactor, configEntries }) => ({ topic, replicationFactor, configEntries })),
        );
        for (const t of list) {
          const minIsr = Number(t.configEntries.find((c) => c.name === 'min.insync.replicas')?.value ?? 1);
          topics[t.topic] = { replicas: t.replicationFactor, minIsr };
        }
        return true;
      },
    }),
  } as unknown as KafkaClient;
  return { kafka, created, calls: () => calls };
}

const retriable = () => Object.assign(new Error('This server does not host this topic-partition'), { retriable: true });

describe('ensureTopics', () => {
  it('retries what the broker says is retriable, then creates only the missing topics', async () => {
    const f = fakeKafka([retriable(), retriable()], { existing: { replicas: 1, minIsr: 1 } });
    await ensureTopics(f.kafka, ['existing', 'new'], { retryForMs: 10_000 });
    expect(f.calls()).toBe(3);
    expect(f.created.map((c) => c.map((t) => t.topic))).toEqual([['new']]);
  });

  it('fails at once on an error retrying cannot fix, with the code of its cause', async () => {
    const f = fakeKafka([Object.assign(new Error('Topic authorization failed'), { retriable: false })]);
    await expect(ensureTopics(f.kafka, ['new'])).rejects.toMatchObject({ code: 'VIGIE_KAFKA_TOPICS' });
    expect(f.calls()).toBe(1);
    const g = fakeKafka([
      Object.assign(new Error('Not authorized to access topics'), {
        type: 'TOPIC_AUTHORIZATION_FAILED',
        retriable: false,
      }),
    ]);
    await expect(ensureTopics(g.kafka, ['new'])).rejects.toMatchObject({ code: 'VIGIE_KAFKA_AUTHORIZATION' });
  });

  it('waits for a leader election that kafkajs reported as retries exceeded (a broker down at start)', async () => {
    // What kafkajs throws once its own retries are spent: retriable false, the election under it.
    const electing = () =>
      Object.assign(new Error('There is no leader for this topic-partition'), {
        retriable: false,
        name: 'KafkaJSNumberOfRetriesExceeded',
        originalError: Object.assign(new Error('There is no leader for this topic-partition'), {
          type: 'LEADER_NOT_AVAILABLE',
          retriable: true,
        }),
      });
    const f = fakeKafka([electing(), electing()]);
    await ensureTopics(f.kafka, ['new'], { retryForMs: 10_000 });
    expect(f.calls()).toBe(3);
    expect(f.created.map((c) => c.map((t) => t.topic))).toEqual([['new']]);
  });

  it('gives up on retriable errors after retryForMs', async () => {
    const f = fakeKafka(Array.from({ length: 100 }, retriable));
    await expect(ensureTopics(f.kafka, ['new'], { retryForMs: 300 })).rejects.toMatchObject({
      code: 'VIGIE_KAFKA_TOPICS',
    });
    expect(f.calls()).toBeGreaterThan(1);
    expect(f.calls()).toBeLessThan(100);
  });

  it('creates with the configured replication and min.insync.replicas, and reports what it finds', async () => {
    const f = fakeKafka([]);
    const found = await ensureTopics(f.kafka, ['a'], {
      durability: { replicationFactor: 3, minInsyncReplicas: 2, allowUnsafe: false },
    });
    expect(f.created).toEqual([
      [{ topic: 'a', replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
    ]);
    expect(found).toEqual([{ topic: 'a', replicationFactor: 3, minInsyncReplicas: 2 }]);
  });

  it('refuses existing topics that cannot survive a broker loss, unless told to (then warns)', async () => {
    const durable = { replicationFactor: 3, minInsyncReplicas: 2, allowUnsafe: false };
    const f = fakeKafka([], { one: { replicas: 1, minIsr: 1 }, good: { replicas: 3, minIsr: 2 } });
    await expect(ensureTopics(f.kafka, ['good', 'one'], { durability: durable })).rejects.toMatchObject({
      code: 'VIGIE_KAFKA_TOPICS_UNSAFE',
      retriable: false,
      message: expect.stringContaining('one (replication factor 1, min.insync.replicas 1)'),
    });
    const warned: unknown[] = [];
    const logger = { warn: (o: unknown) => warned.push(o) } as never;
    await ensureTopics(f.kafka, ['good', 'one'], { durability: { ...durable, allowUnsafe: true }, logger });
    expect(warned).toEqual([{ topics: [{ topic: 'one', replicationFactor: 1, minInsyncReplicas: 1 }] }]);
    // Without durability (tests, tools) nothing is checked.
    await ensureTopics(f.kafka, ['one']);
  });
});

describe('survivesBrokerLoss', () => {
  it('needs two copies of every acknowledged event and a spare replica to keep writing', () => {
    const t = (replicationFactor: number, minInsyncReplicas: number) =>
      survivesBrokerLoss({ topic: 't', replicationFactor, minInsyncReplicas });
    expect([t(1, 1), t(2, 1), t(2, 2), t(3, 1), t(3, 2), t(3, 3), t(5, 3)]).toEqual([
      false, // the only copy is on the lost broker
      false, // acknowledged with one copy: lost with its broker
      false, // every write stops while one broker is down
      false,
      true,
      false,
      true,
    ]);
  });
});
