import { createBatchConsumer, type BatchConsumer, type KafkaClient } from '@vigie/kafka';
import type { Logger } from '@vigie/runtime';
import type { InputMessage } from './decode.js';

/** Options of {@link createEventConsumer}. */
export interface EventConsumerOptions {
  groupId: string;
  /** The input topics (activity, egress, changes). */
  topics: readonly string[];
  logger: Logger;
  /** See `DetectorConfig.kafka.sessionTimeoutMs`. */
  sessionTimeoutMs?: number;
  /** After each join: the partition numbers this member owns (the same in every input topic). */
  onAssigned(partitions: readonly number[]): void;
  /** Runs one partition's batch through the engine and the sinks; the offsets commit after it resolves. */
  handleBatch(topic: string, partition: number, messages: readonly InputMessage[]): Promise<void>;
}

/** The detector's source: its membership of the consumer group over the input topics. */
export interface EventConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while the member is in the group (readiness). */
  readonly consuming: boolean;
}

/**
 * The consumer group member feeding the detector. While a batch's effects wait (a store or Kafka outage, retried
 * until they land) it keeps heartbeating, or the broker would hand the partition to another member mid-batch.
 */
export function createEventConsumer(kafka: KafkaClient, o: EventConsumerOptions): EventConsumer {
  let consuming = false;
  const consumer: BatchConsumer = createBatchConsumer(kafka, {
    groupId: o.groupId,
    topics: o.topics,
    logger: o.logger,
    // Partition p of every input topic to one member: a cluster's events, whichever collector sent them, meet in the
    // engine of the cluster's partition.
    coPartitioned: true,
    onAssigned: (assignment) => o.onAssigned([...new Set(Object.values(assignment).flat())]),
    ...(o.sessionTimeoutMs !== undefined && {
      sessionTimeoutMs: o.sessionTimeoutMs,
      heartbeatIntervalMs: Math.min(3_000, Math.floor(o.sessionTimeoutMs / 3)),
    }),
    handleBatch: async (batch) => {
      const beat = setInterval(() => void batch.heartbeat().catch(() => undefined), 3_000);
      try {
        await o.handleBatch(
          batch.topic,
          batch.partition,
          batch.messages.map((m) => ({ offset: m.offset, value: m.value })),
        );
      } finally {
        clearInterval(beat);
      }
    },
  });
  consumer.consumer.on(consumer.consumer.events.GROUP_JOIN, () => (consuming = true));
  consumer.consumer.on(consumer.consumer.events.CRASH, () => (consuming = false));
  return {
    start: () => consumer.start(),
    async stop() {
      try {
        await consumer.stop();
      } finally {
        consuming = false;
      }
    },
    get consuming() {
      return consuming;
    },
  };
}
