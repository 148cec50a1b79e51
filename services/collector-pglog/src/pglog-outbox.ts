import { Outbox } from '@vigie/collector-kit';
import type { OutboxKind } from '@vigie/collector-kit';
import type { ReliableProducer } from '@vigie/kafka';
import { describeError, rateLimited, type Logger } from '@vigie/runtime';
import type { CollectorPglogConfig } from './config.js';
import type { CollectorMetrics } from './metrics.js';
import type { LogPosition } from './source-tail.js';

export interface PglogOutboxOptions {
  config: Pick<CollectorPglogConfig, 'cluster' | 'topics' | 'kafka' | 'validateEvery'>;
  metrics: CollectorMetrics;
  logger: Logger;
  /** The outbox's acknowledged watermark is the checkpoint: nothing else moves it. */
  onAcknowledged: (position: LogPosition | undefined, kinds: readonly OutboxKind[]) => void;
}

/** The collector's outbox: batches cut by the read loop at log positions, bounded in flight by events and bytes. */
export function createPglogOutbox(
  producer: ReliableProducer,
  { config, metrics, logger, onAcknowledged }: PglogOutboxOptions,
): Outbox<LogPosition> {
  const logKafkaRejected = rateLimited(5000, (suppressed: number, error: string, deadLettered: boolean) =>
    logger.warn(
      { error, suppressed },
      deadLettered ? 'event refused by Kafka: dead-lettered' : 'dead letter refused by Kafka: dropped',
    ),
  );
  return new Outbox<LogPosition>(producer, {
    collector: 'collector-pglog',
    cluster: config.cluster,
    topics: config.topics,
    maxInFlightEvents: config.kafka.maxInFlightEvents,
    maxInFlightBytes: config.kafka.maxInFlightBytes,
    validateEvery: config.validateEvery,
    metrics,
    onInvalid: (event, error) =>
      logger.error({ kind: event.kind, id: event.id, error: describeError(error) }, 'event refused by the contract'),
    onKafkaRejected: ({ error }, deadLettered) => {
      logKafkaRejected(describeError(error), deadLettered);
    },
    onAcknowledged,
  });
}
