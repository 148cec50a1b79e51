import { randomUUID } from 'node:crypto';
import { waitFor, type Logger } from '@vigie/runtime';
import { classifyKafkajsError, whoIs, type KafkaClient } from './client.js';

/** Offsets `[from, to)` of one topic's partition. */
export interface OffsetRange {
  topic: string;
  from: bigint;
  to: bigint;
}

/** One message read back, with its broker timestamp (milliseconds). */
export interface ReadMessage {
  topic: string;
  offset: string;
  timestampMs: number;
  value: Buffer | null;
}

/**
 * Where partition `partition` of each topic should be read from to cover what came since `sinceMs`, up to what consumer
 * group `groupId` committed: the part of the log a new owner replays to rebuild the state the previous owner held
 * (the input topics are the changelog, as Kafka Streams uses a source topic for a table's state). Topics the group
 * never committed on, or with nothing in the window, are left out.
 */
export async function committedWindow(
  kafka: KafkaClient,
  o: {
    groupId: string;
    topics: readonly string[];
    partition: number;
    /** Broker time the window starts at. */
    sinceMs: number;
    /** At most this many messages per topic (the newest): the reader holds them in memory. */
    maxMessages?: number;
  },
): Promise<OffsetRange[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId: o.groupId, topics: [...o.topics] });
    const ranges: OffsetRange[] = [];
    for (const t of committed) {
      const at = t.partitions.find((p) => p.partition === o.partition);
      if (at === undefined || Number(at.offset) < 0) continue;
      const to = BigInt(at.offset);
      const byTime = await admin.fetchTopicOffsetsByTimestamp(t.topic, o.sinceMs);
      const first = byTime.find((p) => p.partition === o.partition);
      // No message at or after `since`: kafkajs answers the end of the log (or -1); nothing of the window is left.
      let from = first === undefined || Number(first.offset) < 0 ? to : BigInt(first.offset);
      if (o.maxMessages !== undefined && to - from > BigInt(o.maxMessages)) from = to - BigInt(o.maxMessages);
      if (from < to) ranges.push({ topic: t.topic, from, to });
    }
    return ranges;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Reads the ranges of partition `partition`: a short-lived consumer in a group of its own (`<groupPrefix>.rebuild.<uuid>`,
 * under the detector's group ACL prefix; it commits nothing, so the broker forgets the group once it leaves), other
 * partitions paused, each range's partition sought to its start. Returns the messages of every range, each topic in
 * offset order.
 */
export async function readRanges(
  kafka: KafkaClient,
  o: { groupPrefix: string; partition: number; ranges: readonly OffsetRange[]; logger: Logger; timeoutMs?: number },
): Promise<ReadMessage[]> {
  const { partition, ranges } = o;
  if (ranges.length === 0) return [];
  const byTopic = new Map(ranges.map((r) => [r.topic, r]));
  const done = new Set<string>();
  const out: ReadMessage[] = [];
  const consumer = kafka.consumer({
    groupId: `${o.groupPrefix}.rebuild.${randomUUID()}`,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: 4 << 20,
    // The ranges end at committed offsets, inside the log: a fetch never has to wait for new data.
    maxWaitTimeInMs: 50,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
  } catch (error) {
    await consumer.disconnect().catch(() => undefined);
    throw classifyKafkajsError(error, whoIs(kafka)) ?? error;
  }
  try {
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        const others = partitions.filter((p) => p !== partition);
        if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
        const range = byTopic.get(topic);
        if (range !== undefined) consumer.seek({ topic, partition, offset: String(range.from) });
      }
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        const range = byTopic.get(batch.topic);
        if (batch.partition !== partition || range === undefined || done.has(batch.topic)) return Promise.resolve();
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset < range.from) continue;
          if (offset >= range.to) break;
          out.push({ topic: batch.topic, offset: m.offset, timestampMs: Number(m.timestamp), value: m.value });
        }
        if (BigInt(batch.lastOffset()) >= range.to - 1n) {
          done.add(batch.topic);
          consumer.pause([{ topic: batch.topic, partitions: [partition] }]);
        }
        return Promise.resolve();
      },
    });
    await waitFor(() => done.size === byTopic.size, {
      timeoutMs: o.timeoutMs ?? 300_000,
      intervalMs: 20,
      what: `partition ${partition} of ${[...byTopic.keys()].join(', ')} read back`,
    });
  } finally {
    await consumer.disconnect().catch((error: unknown) => o.logger.warn({ error: String(error) }, 'rebuild reader'));
  }
  return out;
}
