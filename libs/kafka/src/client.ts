import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel, type ISocketFactory, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { VigieError } from '@vigie/errors';
import type { Logger } from '@vigie/runtime';
import { resolveKafkaSecurity, type KafkaSaslSettings, type KafkaSslSettings } from './security.js';
import { isTlsError } from './wire/connection.js';
import { KAFKA_ERRORS } from './errors.js';

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
        // A member joining or leaving makes every heartbeat answer "rebalancing" until all rejoin: the rebalance
        // itself is logged once (the consumer's "re-joining" warning), not each of these.
        if (message.startsWith('Response Heartbeat') && String(rest['error']).includes('group is rebalancing')) return;
        log[LEVEL[level] ?? 'info'](rest, message);
      },
    // The producer and consumer wrappers own retries (forever, with backoff); kafkajs' own stay short.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    socketFactory: cappedSocketFactory(),
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

/**
 * Largest response frame a kafkajs connection accepts. kafkajs buffers a frame whole before decoding it, whatever
 * its announced size: a hostile or confused peer could make the detector hold gigabytes. A fetch answer is bounded by
 * the consumer's maxBytes (10 MiB by default) plus headers; 64 MiB leaves room for any setting Vigie uses.
 */
export const KAFKAJS_MAX_FRAME_BYTES = 64 << 20;

/**
 * kafkajs's own socket factory (TCP, or TLS with the host as server name when it is not an IP address), with the
 * response frames' size prefixes checked as the bytes arrive: a frame above `maxFrameBytes` destroys the socket
 * before kafkajs buffers it (kafkajs then sees a connection error naming the cap).
 */
export function cappedSocketFactory(maxFrameBytes = KAFKAJS_MAX_FRAME_BYTES): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket: Socket = ssl
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
      : netConnect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    let left = 0; // bytes of the current frame still to come
    let prefix = Buffer.alloc(0); // a size prefix split across chunks
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'data' && Buffer.isBuffer(args[0])) {
        const chunk = args[0];
        for (let o = 0; o < chunk.length;) {
          if (left > 0) {
            const n = Math.min(left, chunk.length - o);
            left -= n;
            o += n;
            continue;
          }
          const take = Math.min(4 - prefix.length, chunk.length - o);
          prefix = Buffer.concat([prefix, chunk.subarray(o, o + take)]);
          o += take;
          if (prefix.length < 4) break;
          const size = prefix.readInt32BE(0);
          prefix = Buffer.alloc(0);
          if (size < 0 || size > maxFrameBytes) {
            socket.destroy(
              new Error(
                `${KAFKA_ERRORS.FRAME_TOO_LARGE}: a response frame of ${size} bytes exceeds the ${maxFrameBytes}-byte cap`,
              ),
            );
            return false;
          }
          left = size;
        }
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    return socket;
  };
}

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
      return new VigieError(KAFKA_ERRORS.AUTH, `kafka refused the authentication of ${who}: ${message}`, {
        retriable: false,
        cause: error,
      });
    }
    if (message.includes(KAFKA_ERRORS.FRAME_TOO_LARGE)) {
      return new VigieError(
        KAFKA_ERRORS.FRAME_TOO_LARGE,
        `kafka: ${message.slice(message.indexOf(`${KAFKA_ERRORS.FRAME_TOO_LARGE}: `) + 29)} — is this a Kafka listener of ` +
          'the configured security protocol (kafka.ssl on a TLS listener, off on a plain one)?',
        { retriable: false, cause: error },
      );
    }
    if (isTlsError(e)) {
      return new VigieError(
        KAFKA_ERRORS.TLS,
        `kafka TLS: ${String(e['code'])}: ${message} — is the broker's certificate signed by a CA in kafka.ssl.caFile, ` +
          'and does it name the address in kafka.brokers (or kafka.ssl.serverName)?',
        { retriable: false, cause: error },
      );
    }
    if (typeof e['type'] === 'string' && e['type'].endsWith('AUTHORIZATION_FAILED')) {
      return new VigieError(
        KAFKA_ERRORS.AUTHORIZATION,
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
