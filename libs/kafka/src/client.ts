import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '@vigie/runtime';

/** How to reach the brokers. */
export interface KafkaSettings {
  brokers: readonly string[];
  clientId: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own log lines go to the service's pino logger (warnings and errors only). */
export function createKafka(
  { brokers, clientId, connectionTimeoutMs = 3000, requestTimeoutMs = 30_000 }: KafkaSettings,
  logger: Logger,
): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    brokers: [...brokers],
    clientId,
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, timestamp: _t, logger: _l, ...rest } = entry;
        // Expected by design: our own send loop retries forever on a fresh producer (see producer.ts).
        if (message.startsWith('Limiting retries for the idempotent producer')) return;
        log[LEVEL[level] ?? 'info'](rest, message);
      },
    // The producer and consumer wrappers own retries (forever, with backoff); kafkajs' own stay short.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}
