import { Outbox } from '@vigie/collector-kit';
import type { ReliableProducer } from '@vigie/kafka';
import { describeError, type Logger } from '@vigie/runtime';
import type { ReplicationConfig } from './config.js';
import type { ReplicationMetrics } from './metrics.js';

export interface ReplicationOutboxOptions {
  config: Pick<ReplicationConfig, 'cluster' | 'topics' | 'batch'>;
  metrics: ReplicationMetrics;
  logger: Logger;
  /** Kafka acknowledged everything up to this commit LSN: the only caller of the server confirmation. */
  onAcknowledged: (lsn: bigint) => void;
}

/**
 * The collector's outbox. It sends by itself, one batch in flight (the reliable producer is sequential anyway): while
 * it flies, new events queue up and leave together, so batching grows with load without a linger timer. Positions are
 * commit LSNs, in commit order: the acknowledged watermark is the LSN confirmed to the server.
 */
export function createReplicationOutbox(
  producer: ReliableProducer,
  { config, metrics, logger, onAcknowledged }: ReplicationOutboxOptions,
): Outbox<bigint> {
  return new Outbox<bigint>(producer, {
    collector: 'collector-replication',
    cluster: config.cluster,
    topics: config.topics,
    autoSend: true,
    maxBatchEvents: config.batch.maxEvents,
    maxInFlightEvents: config.batch.maxPending,
    metrics,
    onAcknowledged: (lsn) => {
      if (lsn === undefined) return;
      onAcknowledged(lsn);
    },
    onInvalid: (event, error) =>
      logger.error({ kind: event.kind, error: describeError(error) }, 'event refused by the contract: dead-lettered'),
    onKafkaRejected: ({ error }, deadLettered) =>
      logger.warn(
        { error: describeError(error) },
        deadLettered ? 'event refused by Kafka: dead-lettered' : 'dead letter refused by Kafka: dropped',
      ),
    onFailed: (error) =>
      logger.error(
        { error: describeError(error) },
        'kafka producer stopped or refused the collector: events unsent, not confirmed',
      ),
  });
}
