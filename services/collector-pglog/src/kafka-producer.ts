import { createReliableProducer, type ProducerState, type ReliableProducer } from '@vigie/kafka';
import { describeError, type Logger } from '@vigie/runtime';
import type { CollectorPglogConfig } from './config.js';
import type { CollectorMetrics } from './metrics.js';

/** The producer and its last known state (an injected producer's state is not followed: it stays `idle`). */
export interface PglogProducer {
  producer: ReliableProducer;
  status(): { state: ProducerState; error: string | undefined };
}

export function createPglogProducer(
  kafka: CollectorPglogConfig['kafka'],
  metrics: CollectorMetrics,
  logger: Logger,
  injected: ReliableProducer | undefined,
): PglogProducer {
  let state: ProducerState = 'idle';
  let lastError: string | undefined;
  const producer =
    injected ??
    createReliableProducer(kafka, {
      logger,
      onStateChange: (next, error) => {
        state = next;
        metrics.kafkaUp.set(next === 'ready' ? 1 : 0);
        lastError = error === undefined ? undefined : describeError(error);
        if (next === 'failing') logger.warn({ error: lastError }, 'kafka unavailable: reading paused');
        if (next === 'ready') logger.info('kafka available: reading');
      },
    });
  return { producer, status: () => ({ state, error: lastError }) };
}
