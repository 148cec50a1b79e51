import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { VigieError, type Logger } from '@vigie/runtime';
import { resolveKafkaSecurity, type KafkaSaslSettings, type KafkaSslSettings } from './security.js';
import { isTlsError } from './wire/connection.js';

/** The kafkajs client the consumer and topic admin are built on; services name it through this package only. */
export type KafkaClient = Kafka;

/** `kafka.topics`: durability of created topics and the check of existing ones (see `kafkaTopicSettings`). */
export interface KafkaTopicSettings {
  replicationFactor?: number | undefined;
  minInsyncReplicas?: number | undefined;
  allowUnsafe?: boolean | undefined;
}

/** How to reach the brokers: the `kafka:` block every service shares (`kafkaSettings` in @vigie/runtime). */
export interface KafkaSettings {
  brokers: readonly string[];
  clientId: string;
  connectionTimeoutMs?: number | undefined;
  requestTimeoutMs?: number | undefined;
  ssl?: KafkaSslSettings | undefined;
  sasl?: KafkaSaslSettings | undefined;
  compression?: 'none' | 'gzip' | 'zstd' | undefined;
  topics?: KafkaTopicSettings | undefined;
}

const LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * A kafkajs client (consumer, topic admin) whose own log lines go to the service's pino logger (warnings and errors
 * only), with the same TLS and SASL settings as the producer. Reads the certificate and password files now: a
 * missing one is a ConfigError.
 */
export function createKafka(settings: KafkaSettings, logger: Logger): KafkaClient {
  const { brokers, clientId, connectionTimeoutMs = 3000, requestTimeoutMs = 30_000 } = settings;
  const { tls, sasl } = resolveKafkaSecurity(settings);
  const log = logger.child({ component: 'kafkajs' });
  const config: KafkaConfig = {
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
        // ensureTopics asks for each topic's metadata to learn whether it exists: "does not host" is its answer.
        if (message.startsWith('Response Metadata') && String(rest['error']).includes('does not host this topic'))
          return;
        log[LEVEL[level] ?? 'info'](rest, message);
      },
    // The producer and consumer wrappers own retries (forever, with backoff); kafkajs' own stay short.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  };
  // kafkajs hands `ssl` to tls.connect as is: the same CA, client certificate and name check as the producer.
  if (tls) config.ssl = tls;
  if (sasl) {
    config.sasl = {
      mechanism: sasl.mechanism.toLowerCase(),
      username: sasl.username,
      password: sasl.password,
    } as SASLOptions;
  }
  const kafka = new Kafka(config);
  principals.set(kafka, principalOf(settings));
  return kafka;
}

/** Who each client authenticates as, for error messages. */
const principals = new WeakMap<KafkaClient, string>();

/** Who `kafka` authenticates as ("user \"vigie-detector\"", or anonymous), for messages. */
export const whoIs = (kafka: KafkaClient): string => principals.get(kafka) ?? 'an anonymous client';

/** The errors kafkajs wraps another in, walked to find the one that says why. */
function* chain(error: unknown, depth = 0): Generator<Record<string, unknown>> {
  if (depth > 6 || error === null || typeof error !== 'object') return;
  const e = error as Record<string, unknown>;
  yield e;
  yield* chain(e['cause'], depth + 1);
  yield* chain(e['originalError'], depth + 1);
  if (Array.isArray(e['errors'])) for (const inner of e['errors']) yield* chain(inner, depth + 1);
}

/**
 * The coded error a kafkajs failure stands for, when retrying cannot help: VIGIE_KAFKA_AUTH (SASL refused),
 * VIGIE_KAFKA_TLS (certificate not trusted, name mismatch), VIGIE_KAFKA_AUTHORIZATION (an ACL is missing). Else
 * `undefined`: the caller keeps its own code.
 */
export function classifyKafkajsError(error: unknown, who: string): VigieError | undefined {
  for (const e of chain(error)) {
    const message = typeof e['message'] === 'string' ? e['message'] : '';
    if (e['name'] === 'KafkaJSSASLAuthenticationError') {
      return new VigieError('VIGIE_KAFKA_AUTH', `kafka refused the authentication of ${who}: ${message}`, {
        retriable: false,
        cause: error,
      });
    }
    if (isTlsError(e)) {
      return new VigieError(
        'VIGIE_KAFKA_TLS',
        `kafka TLS: ${String(e['code'])}: ${message} — is the broker's certificate signed by a CA in kafka.ssl.caFile, ` +
          'and does it name the address in kafka.brokers (or kafka.ssl.serverName)?',
        { retriable: false, cause: error },
      );
    }
    if (typeof e['type'] === 'string' && e['type'].endsWith('AUTHORIZATION_FAILED')) {
      return new VigieError(
        'VIGIE_KAFKA_AUTHORIZATION',
        `kafka refused ${who}: ${e['type']}${message ? ` (${message})` : ''} — an ACL must allow it`,
        { retriable: false, cause: error },
      );
    }
  }
  return undefined;
}

/** Who a settings block authenticates as, for messages (never the password). */
export const principalOf = (settings: Pick<KafkaSettings, 'sasl'>): string =>
  settings.sasl ? `user ${JSON.stringify(settings.sasl.username)}` : 'an anonymous client';
