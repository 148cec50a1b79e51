import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { VigieError, backoffMs, describeError, type Logger } from '@vigie/runtime';

/**
 * A message ready for Kafka: the value is already encoded by `@vigie/contract`. A string value is the UTF-8 JSON
 * text itself: kafkajs writes it straight into the record, which saves a Buffer copy per message on hot paths.
 */
export interface OutgoingMessage {
  topic: string;
  key: string;
  value: Buffer | string;
}

/** Bytes a value takes on the wire. */
export const valueBytes = (value: Buffer | string): number =>
  typeof value === 'string' ? Buffer.byteLength(value) : value.length;

/** What a producer is doing now; `failing` means sends are being retried (the caller should stop reading). */
export type ProducerState = 'idle' | 'ready' | 'failing' | 'stopped';

/** Options of {@link createReliableProducer}. */
export interface ReliableProducerOptions {
  logger: Logger;
  /** Called on every state change (metrics, readiness). */
  onStateChange?: (state: ProducerState, error?: unknown) => void;
  compression?: CompressionTypes;
  maxBackoffMs?: number;
  /**
   * Most bytes (keys + values) in one produce request. The broker refuses a record batch above its
   * `message.max.bytes` (1 MiB by default), and one session's events all go to one partition, so a large send is
   * split into requests below this bound, sent in order.
   */
  maxRequestBytes?: number;
}

/** At-least-once producer: {@link ReliableProducer.send} resolves only once Kafka acknowledged the whole batch. */
export interface ReliableProducer {
  /**
   * Sends a batch (split into requests of at most `maxRequestBytes`) and waits for the acknowledgement of every
   * in-sync replica; retries until it lands or stop(). Rejects with VIGIE_KAFKA_MESSAGE_TOO_LARGE (not retriable)
   * for a message the broker can never accept: the caller dead-letters it.
   */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  readonly state: ProducerState;
  /** Why the last attempt failed, while `state` is `failing`. */
  readonly lastError: string | undefined;
  /** Lets an in-flight send finish (or fail), then disconnects. Pending sends reject with VIGIE_KAFKA_STOPPED. */
  stop(): Promise<void>;
}

/** Splits messages, in order, into runs whose keys and values add up to at most `maxBytes` each. */
export function splitByBytes<M extends { key: string; value: Buffer | string }>(
  messages: readonly M[],
  maxBytes: number,
): M[][] {
  const runs: M[][] = [];
  let run: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = valueBytes(m.value) + Buffer.byteLength(m.key);
    if (run.length > 0 && bytes + size > maxBytes) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(m);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** A message the broker can never accept (larger than `message.max.bytes`): retrying cannot help. */
function isTooLarge(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { type?: unknown }).type === 'MESSAGE_TOO_LARGE') return true;
  }
  return false;
}

function groupByTopic(messages: readonly OutgoingMessage[]) {
  // The messages themselves, not copies: kafkajs reads key and value (and ignores `topic`), and a copy per message
  // was one more allocation on the hot path.
  const byTopic = new Map<string, OutgoingMessage[]>();
  for (const m of messages) {
    let list = byTopic.get(m.topic);
    if (!list) byTopic.set(m.topic, (list = []));
    list.push(m);
  }
  return [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs }));
}

type PartitionerArgs = Parameters<ReturnType<typeof Partitioners.DefaultPartitioner>>[0];

/**
 * kafkajs's default partitioner (murmur2 of the key, the Java client's choice) with the answer cached per (topic,
 * partition count, key): it filters the partition list and hashes the key again for every message, and the same
 * session keys come back thousands of times (~2 µs per message on the collector's hot path). Same partitions as
 * the uncached one; the cache is dropped whole when it reaches `maxKeys`, so it stays bounded.
 */
export function cachedDefaultPartitioner(maxKeys = 50_000) {
  return () => {
    const inner = Partitioners.DefaultPartitioner();
    const cache = new Map<string, number>();
    return (args: PartitionerArgs): number => {
      const { key, partition } = args.message;
      if (partition !== null && partition !== undefined) return partition;
      if (typeof key !== 'string') return inner(args);
      const k = `${args.topic}\u0000${args.partitionMetadata.length}\u0000${key}`;
      let p = cache.get(k);
      if (p === undefined) {
        p = inner(args);
        if (cache.size >= maxKeys) cache.clear();
        cache.set(k, p);
      }
      return p;
    };
  };
}

/**
 * Creates the idempotent producer every collector uses: `idempotent: true`, `maxInFlightRequests: 1` (kafkajs does
 * not force it, and concurrent sends with idempotence have lost messages), acks from all replicas, one sequential
 * send loop. A failed send is retried forever with backoff on a *new* kafkajs producer: after an outage the old
 * one's sequence numbers can be refused as out of order. Duplicates are possible (at-least-once); event ids are
 * deterministic so consumers recognise them.
 */
export function createReliableProducer(
  kafka: Kafka,
  {
    logger,
    onStateChange,
    compression = CompressionTypes.None,
    maxBackoffMs = 5000,
    maxRequestBytes = 512 * 1024,
  }: ReliableProducerOptions,
): ReliableProducer {
  let producer: Producer | undefined;
  let state: ProducerState = 'idle';
  let lastError: string | undefined;
  let stopped = false;
  let chain: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;

  const setState = (next: ProducerState, error?: unknown) => {
    if (next === state) return;
    state = next;
    onStateChange?.(next, error);
  };

  const fresh = async (): Promise<Producer> => {
    if (producer) return producer;
    const p = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2, the Java client's partitioner: a key lands on the same partition whoever produced it.
      createPartitioner: cachedDefaultPartitioner(),
    });
    await p.connect();
    producer = p;
    return p;
  };

  const drop = async () => {
    const p = producer;
    producer = undefined;
    if (p) await p.disconnect().catch(() => undefined);
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const sendOnce = async (messages: readonly OutgoingMessage[]) => {
    for (let attempt = 0; ; attempt += 1) {
      if (stopped) throw new VigieError('VIGIE_KAFKA_STOPPED', 'producer stopped before the batch was acknowledged');
      try {
        const p = await fresh();
        await p.sendBatch({ topicMessages: groupByTopic(messages), acks: -1, compression });
        lastError = undefined;
        setState('ready');
        return;
      } catch (error) {
        if (isTooLarge(error)) {
          // Only a single message above the broker's limit gets here (requests are split below it): the caller
          // must dead-letter it; retrying forever would stall the whole stream behind it.
          throw new VigieError('VIGIE_KAFKA_MESSAGE_TOO_LARGE', 'the broker refuses a message larger than its limit', {
            retriable: false,
            cause: error,
            context: { messages: messages.length, bytes: messages.reduce((n, m) => n + valueBytes(m.value), 0) },
          });
        }
        lastError = describeError(error);
        if (attempt === 0 || attempt % 10 === 0) {
          logger.warn({ attempt, error: lastError, messages: messages.length }, 'kafka send failed; retrying');
        }
        setState('failing', error);
        await drop();
        await sleep(backoffMs(attempt, { baseMs: 200, maxMs: maxBackoffMs }));
      }
    }
  };

  return {
    send(messages) {
      if (messages.length === 0) return chain;
      const next = chain.then(async () => {
        for (const run of splitByBytes(messages, maxRequestBytes)) await sendOnce(run);
      });
      // Keep the chain alive after a rejection so later sends still run in order.
      chain = next.catch(() => undefined);
      return next;
    },
    get state() {
      return state;
    },
    get lastError() {
      return lastError;
    },
    async stop() {
      stopped = true;
      wake?.();
      await chain;
      await drop();
      setState('stopped');
    },
  };
}
