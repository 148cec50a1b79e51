import type { Consumer, KafkaMessage } from 'kafkajs';
import type { Logger } from '@vigie/runtime';
import { classifyKafkajsError, whoIs, type KafkaClient } from './client.js';
import { coPartitionedAssigner } from './co-partitioned.js';

export type { Consumer as KafkaConsumer, KafkaMessage } from 'kafkajs';

/** One batch of one partition, handed to the service in offset order. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  /** Keep the group membership alive during long work. */
  heartbeat(): Promise<void>;
}

/** Options of {@link createBatchConsumer}. */
export interface BatchConsumerOptions {
  groupId: string;
  topics: readonly string[];
  /** Where a group with no committed offset starts; the detector starts at the beginning so nothing is skipped. */
  fromBeginning?: boolean;
  /**
   * Does the batch's effects (alerts sent, rows stored). Offsets are committed only after it resolves, so a crash
   * replays the batch: handlers must be idempotent.
   */
  handleBatch(batch: ConsumedBatch): Promise<void>;
  logger: Logger;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxBytesPerPartition?: number;
  /**
   * Partition p of every topic goes to one member (see `coPartitionedAssigner`): the member owns every event of the
   * keys hashed to p, whichever topic carried them. Every member of the group must set it.
   */
  coPartitioned?: boolean;
  /** After each join: the partitions this member now owns, by topic (what it had and is not listed, it lost). */
  onAssigned?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
}

/** A running consumer group member. */
export interface BatchConsumer {
  start(): Promise<void>;
  /** Stops fetching, lets the current batch finish and commit, leaves the group. Throws VIGIE_KAFKA_AUTH, _TLS or
   * _AUTHORIZATION from start() when retrying cannot help. */
  stop(): Promise<void>;
  /** The kafkajs consumer, for instrumentation events. */
  readonly consumer: Consumer;
}

/** A consumer-group member using `eachBatch` with explicit offset resolution and commit-after-effects. */
export function createBatchConsumer(
  kafka: KafkaClient,
  {
    groupId,
    topics,
    fromBeginning = true,
    handleBatch,
    logger,
    sessionTimeoutMs = 30_000,
    heartbeatIntervalMs = 3_000,
    maxBytesPerPartition = 4 << 20,
    coPartitioned = false,
    onAssigned,
  }: BatchConsumerOptions,
): BatchConsumer {
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new Error(
      `heartbeatIntervalMs (${heartbeatIntervalMs}) must be lower than sessionTimeoutMs (${sessionTimeoutMs}), ` +
        'or the broker evicts the member between two heartbeats',
    );
  }
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: heartbeatIntervalMs,
    maxBytesPerPartition,
    // A fetch waiting for data delays the member's answer to a rebalance by as much (kafkajs' default: 5 s).
    maxWaitTimeInMs: 1_000,
    allowAutoTopicCreation: false,
    ...(coPartitioned && { partitionAssigners: [coPartitionedAssigner] }),
  });
  if (onAssigned !== undefined) {
    consumer.on(consumer.events.GROUP_JOIN, (e) => onAssigned(e.payload.memberAssignment));
  }
  return {
    consumer,
    async start() {
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...topics], fromBeginning });
      } catch (error) {
        // A wrong password, an untrusted certificate or a missing ACL: say which, with its code.
        throw classifyKafkajsError(error, whoIs(kafka)) ?? error;
      }
      await consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: true,
        eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
          if (!isRunning() || isStale() || batch.messages.length === 0) return;
          await handleBatch({ topic: batch.topic, partition: batch.partition, messages: batch.messages, heartbeat });
          resolveOffset(batch.lastOffset());
          await commitOffsetsIfNecessary();
        },
      });
      logger.info({ groupId, topics }, 'consumer started');
    },
    async stop() {
      await consumer.disconnect();
    },
  };
}
