import { VigieError } from '@vigie/errors';
import { backoffMs, describeError, type Logger } from '@vigie/runtime';
import type { KafkaSettings } from './client.js';
import { resolveKafkaSecurity } from './security.js';
import { detachString } from './text-arena.js';
import { Cluster, type TopicLayout } from './wire/cluster.js';
import { compressor } from './wire/compression.js';
import { errorName, kafkaError } from './wire/error-codes.js';
import { partitionForKey } from './wire/hash.js';
import {
  API,
  encodeRecords,
  readInitProducerId,
  readProduce,
  writeInitProducerId,
  writeProduce,
  type PartitionBatch,
} from './wire/protocol.js';
import { KAFKA_ERRORS } from './errors.js';
import { PackedMessages } from './packed-messages.js';

/**
 * A message ready for Kafka: the value is already encoded by `@vigie/contract`. A string value is the UTF-8 JSON
 * text itself: the producer writes it straight into the record batch, which saves a Buffer copy per message.
 */
export interface OutgoingMessage {
  topic: string;
  key: string;
  value: Buffer | string;
  /**
   * What picks the partition (murmur2, the Java client's formula) when it is not the key: collectors send every
   * event of a cluster to the cluster's partition (the detector's unit of ownership) and keep the session in the key.
   */
  partitionKey?: string;
}

/** Bytes a value takes on the wire. */
export const valueBytes = (value: Buffer | string): number =>
  typeof value === 'string' ? Buffer.byteLength(value) : value.length;

/** What a producer is doing now; `failing` means sends are being retried or failed for good (see `lastError`). */
export type ProducerState = 'idle' | 'ready' | 'failing' | 'stopped';

/** A message Kafka can never accept as it is (too large, a record it refuses): the caller dead-letters it. */
export interface RejectedMessage {
  message: OutgoingMessage;
  /** VIGIE_KAFKA_MESSAGE_TOO_LARGE or VIGIE_KAFKA_RECORD_REJECTED; the Kafka error name is in `context.error`. */
  error: VigieError;
}

/** The outcome of a send: every message landed except those in `rejected`, in order. */
export interface SendResult {
  rejected: RejectedMessage[];
}

/** Options of {@link createReliableProducer}. */
export interface ReliableProducerOptions {
  logger: Logger;
  /** Called on every state change (metrics, readiness). */
  onStateChange?: (state: ProducerState, error?: unknown) => void;
  maxBackoffMs?: number;
  /**
   * Most bytes (keys + values) in one produce request. The broker refuses a record batch above its
   * `message.max.bytes` (1 MiB by default), and one session's events all go to one partition, so a large send is
   * split into requests below this bound, sent in order. A topic whose `max.message.bytes` is lower still is met
   * by splitting the refused batch (see `send`).
   */
  maxRequestBytes?: number;
  /** Largest response frame a connection accepts (item: a hostile or confused peer must not make us buffer GBs). */
  maxResponseBytes?: number;
  /** Metadata is refreshed at least this often (leadership moves, brokers leaving). */
  metadataMaxAgeMs?: number;
  /** For tests: a fixed SCRAM nonce. */
  saslNonce?: string;
}

/** At-least-once producer: {@link ReliableProducer.send} resolves only once Kafka acknowledged the whole batch. */
export interface ReliableProducer {
  /**
   * Sends a batch (split into requests of at most `maxRequestBytes`) and waits for the acknowledgement of every
   * in-sync replica. Retriable failures (a broker down, a leader moving, a timeout) are retried until the batch
   * lands or stop(). A message Kafka can never accept (too large for the topic, a refused record) is isolated by
   * splitting the batch and returned in `rejected` — everything else of the batch lands, in order. A failure no
   * retry can fix (authentication, TLS, a missing ACL, an unsupported broker) rejects at once with a
   * non-retriable coded error (VIGIE_KAFKA_AUTH, _TLS, _AUTHORIZATION, _UNSUPPORTED, _PRODUCE): the caller stops.
   */
  send(messages: readonly OutgoingMessage[]): Promise<SendResult>;
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
  return runsBySize(
    messages.length,
    (i) => valueBytes(messages[i]!.value) + Buffer.byteLength(messages[i]!.key),
    maxBytes,
  ).map(([from, to]) => messages.slice(from, to));
}

/** The [from, to) index ranges, in order, of `count` items whose sizes add up to at most `maxBytes` each. */
function runsBySize(count: number, size: (i: number) => number, maxBytes: number): [number, number][] {
  const runs: [number, number][] = [];
  let from = 0;
  let bytes = 0;
  for (let i = 0; i < count; i += 1) {
    const n = size(i);
    if (i > from && bytes + n > maxBytes) {
      runs.push([from, i]);
      from = i;
      bytes = 0;
    }
    bytes += n;
  }
  if (count > from) runs.push([from, count]);
  return runs;
}

/**
 * The Java client's partition for a key (murmur2), cached: the same session keys come back thousands of times and
 * hashing one costs a Buffer and a pass over its bytes. Dropped whole at `maxKeys`, so it stays bounded.
 */
class PartitionCache {
  private readonly byCount = new Map<number, Map<string, number>>();
  private size = 0;

  constructor(private readonly maxKeys = 50_000) {}

  get(key: string, partitions: number): number {
    let cache = this.byCount.get(partitions);
    if (!cache) this.byCount.set(partitions, (cache = new Map()));
    let p = cache.get(key);
    if (p === undefined) {
      if (this.size >= this.maxKeys) {
        this.byCount.clear();
        this.byCount.set(partitions, (cache = new Map()));
        this.size = 0;
      }
      p = partitionForKey(key, partitions);
      cache.set(detachString(key), p); // a kept key must not keep the text it was cut from alive
      this.size += 1;
    }
    return p;
  }
}

/** One partition's share of a send: what is left to write, in order, and the outcome of the last attempt. */
interface Group {
  topic: string;
  partition: number;
  /** Indices (in the send's packed messages) of the messages neither landed nor rejected yet, in order. */
  queue: number[];
  /**
   * Most messages per attempt. Halved each time the broker refuses a batch as a whole (too large for the topic's
   * `max.message.bytes`), until a refused message is alone. Never changed while an attempt's outcome is unknown:
   * a re-sent batch must be the same batch, or the broker cannot recognise it as a duplicate.
   */
  limit: number;
  /** Messages in the last attempt (the head of `queue`). */
  sending: number;
  /** Kafka error code of the last attempt (0: landed). */
  code: number;
}

/** Groups the messages `[from, to)` by topic and partition, in order within each partition. */
function groupMessages(
  packed: PackedMessages,
  from: number,
  to: number,
  layouts: ReadonlyMap<string, TopicLayout>,
  partitions: PartitionCache,
): Group[] {
  const groups: Group[] = [];
  const byTopic = new Map<string, Group[]>();
  for (let i = from; i < to; i += 1) {
    const topic = packed.topics[i]!;
    let slots = byTopic.get(topic);
    if (!slots) byTopic.set(topic, (slots = []));
    const count = layouts.get(topic)?.leaders.length ?? 1;
    const partition = partitions.get(packed.partitionKeys[i] ?? packed.keys[i]!, count);
    let g = slots[partition];
    if (!g) {
      g = slots[partition] = { topic, partition, queue: [], limit: Infinity, sending: 0, code: -1 };
      groups.push(g);
    }
    g.queue.push(i);
  }
  return groups;
}

/** Sequence numbers wrap to 0 after 2^31 - 1, as the broker expects. */
const nextSequence = (seq: number, n: number) => (seq + n) % 2 ** 31;

const NETWORK_EXCEPTION = 13;
const LEADER_NOT_AVAILABLE = 5;

/**
 * Creates the producer every service uses: Kafka's own produce protocol (record batches of magic 2, written straight
 * from the event text, CRC-32C, murmur2 partitions like the Java client, optionally gzip- or zstd-compressed), over
 * TCP or TLS, with SASL (PLAIN, SCRAM-SHA-256/512), idempotent (a producer id and a sequence number per partition,
 * so a batch re-sent after a lost response is recognised by the broker instead of written twice), acks from all
 * in-sync replicas, one request per partition leader at a time, sends in order.
 *
 * Why not kafkajs's producer (kafkajs stays for consumers and topic admin): it encodes each record through generic
 * encoders with several buffer copies and a CRC in JS per batch; on the log collector's hot path it cost 6.7
 * CPU-seconds per 500,000 events before any parsing (bench/pglog-throughput.ts), more than the collector's whole
 * budget allows.
 *
 * Every Kafka error code is classified in one table (wire/error-codes.ts). A connection or leadership problem
 * re-sends the same batches with the same sequence numbers after refreshing metadata, forever with backoff: nothing
 * is lost, nothing is reordered within a partition, and no duplicate is written. A producer-state problem (the broker
 * lost or fenced this producer: OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_EPOCH) takes a
 * new producer id and re-sends: a batch whose earlier attempt had an unknown outcome (timeout, connection reset) may
 * then be written twice — the only duplicate, and consumers recognise it by its event id. Never-succeeding errors
 * are not retried (see {@link ReliableProducer.send}).
 */
export function createReliableProducer(
  settings: KafkaSettings,
  {
    logger,
    onStateChange,
    maxBackoffMs = 5000,
    maxRequestBytes = 512 * 1024,
    maxResponseBytes,
    metadataMaxAgeMs,
    saslNonce,
  }: ReliableProducerOptions,
): ReliableProducer {
  const requestTimeoutMs = settings.requestTimeoutMs ?? 30_000;
  const { tls, sasl } = resolveKafkaSecurity(settings);
  const cluster = new Cluster({
    brokers: settings.brokers,
    clientId: settings.clientId,
    connectTimeoutMs: settings.connectionTimeoutMs ?? 3000,
    // The broker answers a produce request by its own timeout (below) before the connection gives up on it.
    requestTimeoutMs: requestTimeoutMs + Math.min(5000, requestTimeoutMs),
    logger,
    tls,
    sasl,
    maxResponseBytes,
    metadataMaxAgeMs,
    saslNonce,
  });
  const compression = compressor(settings.compression ?? 'none');
  const partitions = new PartitionCache();
  const sequences = new Map<string, number>();
  let producerId = -1n;
  let producerEpoch = -1;
  let state: ProducerState = 'idle';
  let lastError: string | undefined;
  let stopped = false;
  let chain: Promise<unknown> = Promise.resolve();
  let wake: (() => void) | undefined;

  const setState = (next: ProducerState, error?: unknown) => {
    if (next === state) return;
    state = next;
    onStateChange?.(next, error);
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /**
   * Asks for a producer id, from the `attempt`-th broker on: a broker whose producer-id block is not ready (after
   * the controller or a broker died, it answers COORDINATOR_LOAD_IN_PROGRESS until its request to the controller
   * gives up) would answer the same to every retry; another one usually has a block.
   */
  const initProducerId = async (attempt: number) => {
    const conn = await cluster.any(attempt);
    const answer = readInitProducerId(await conn.request(API.InitProducerId, writeInitProducerId));
    conn.throttle(answer.throttleTimeMs);
    if (answer.errorCode !== 0) {
      const info = kafkaError(answer.errorCode);
      if (info.action === 'fatal') {
        throw new VigieError(
          info.vigieCode ?? KAFKA_ERRORS.PRODUCER_ID,
          answer.errorCode === 31
            ? `kafka refuses ${cluster.who()} an idempotent producer id (CLUSTER_AUTHORIZATION_FAILED): an ACL must ` +
                'allow Write on a topic (Kafka >= 3.0) or IdempotentWrite on the cluster'
            : `InitProducerId refused: ${info.name}`,
          { retriable: false, context: { error: info.name } },
        );
      }
      throw new VigieError(KAFKA_ERRORS.PRODUCER_ID, `InitProducerId refused: ${info.name}`, { retriable: true });
    }
    producerId = answer.producerId;
    producerEpoch = answer.producerEpoch;
    sequences.clear();
  };

  /**
   * Sends the head of every group with something left to its leader, one request per leader; sets each group's
   * `sending` and `code` (0 = landed). Throws only a non-retriable error (TLS, authentication).
   */
  const produce = async (
    packed: PackedMessages,
    groups: readonly Group[],
    layouts: ReadonlyMap<string, TopicLayout>,
  ) => {
    const byLeader = new Map<number, Group[]>();
    for (const g of groups) {
      const leader = layouts.get(g.topic)?.leaders[g.partition] ?? -1;
      g.sending = Math.min(g.queue.length, g.limit);
      if (leader < 0) {
        g.code = LEADER_NOT_AVAILABLE;
        continue;
      }
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push(g);
    }
    const timestamp = Date.now();
    const requests = [...byLeader].map(async ([leader, list]) => {
      try {
        const topics = new Map<string, PartitionBatch[]>();
        await Promise.all(
          list.map(async (g) => {
            const records = packed.records(g.queue.slice(0, g.sending));
            const batch: PartitionBatch = {
              partition: g.partition,
              records,
              baseSequence: sequences.get(`${g.topic}\u0000${g.partition}`) ?? 0,
            };
            if (compression) {
              batch.compressed = {
                codec: compression.codec,
                bytes: await compression.compress(encodeRecords(records)),
              };
            }
            let batches = topics.get(g.topic);
            if (!batches) topics.set(g.topic, (batches = []));
            batches.push(batch);
          }),
        );
        const conn = await cluster.node(leader);
        const { results, throttleTimeMs } = readProduce(
          await conn.request(API.Produce, (w) =>
            writeProduce(w, {
              acks: -1,
              timeoutMs: requestTimeoutMs,
              producerId,
              producerEpoch,
              timestamp,
              topics: [...topics].map(([name, batches]) => ({ name, partitions: batches })),
            }),
          ),
        );
        conn.throttle(throttleTimeMs);
        for (const g of list) g.code = NETWORK_EXCEPTION; // unless the answer names the partition
        for (const r of results) {
          const g = list.find((x) => x.topic === r.topic && x.partition === r.partition);
          if (g) g.code = r.errorCode;
        }
      } catch (error) {
        // Outcome unknown: re-sent as the same batches with the same sequence numbers.
        for (const g of list) g.code = NETWORK_EXCEPTION;
        throw error;
      }
    });
    const settled = await Promise.allSettled(requests);
    const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    const fatal = errors.find((e) => e instanceof VigieError && !e.retriable);
    if (fatal) throw fatal;
    return errors;
  };

  /** The coded error of a batch refused for good (`fatal` in the table). */
  const fatalError = (g: Group) => {
    const info = kafkaError(g.code);
    const message =
      g.code === 29
        ? `kafka refuses ${cluster.who()} Write on topic ${g.topic} (TOPIC_AUTHORIZATION_FAILED): an ACL must allow ` +
          'Describe and Write on it'
        : `kafka refused the batch for ${g.topic}/${g.partition}: ${info.name}`;
    return new VigieError(info.vigieCode ?? KAFKA_ERRORS.PRODUCE, message, {
      retriable: false,
      context: { topic: g.topic, partition: g.partition, error: info.name },
    });
  };

  const sendOnce = async (packed: PackedMessages, from: number, to: number, rejected: RejectedMessage[]) => {
    const topics = [...new Set(packed.topics.slice(from, to))];
    let groups: Group[] | undefined;
    let refresh = false;
    for (let attempt = 0; ;) {
      if (stopped) throw new VigieError(KAFKA_ERRORS.STOPPED, 'producer stopped before the batch was acknowledged');
      let failure: unknown;
      try {
        if (producerId < 0n) await initProducerId(attempt);
        const layouts = await cluster.layout(topics, refresh);
        refresh = false;
        groups ??= groupMessages(packed, from, to, layouts, partitions);
        const active = groups.filter((g) => g.queue.length > 0);
        const errors = await produce(packed, active, layouts);
        const retried: Group[] = [];
        let fatal: VigieError | undefined;
        for (const g of active) {
          const info = kafkaError(g.code);
          switch (info.action) {
            case 'landed': {
              g.queue.splice(0, g.sending);
              const key = `${g.topic}\u0000${g.partition}`;
              sequences.set(key, nextSequence(sequences.get(key) ?? 0, g.sending));
              break;
            }
            case 'reject':
              // Not written, sequence not used: the broker validates a batch before appending it.
              if (g.sending > 1) {
                g.limit = Math.ceil(g.sending / 2);
              } else {
                const index = g.queue.shift()!;
                const bytes = packed.valueBytes[index]!;
                rejected.push({
                  message: packed.message(index),
                  error: new VigieError(
                    info.vigieCode ?? KAFKA_ERRORS.RECORD_REJECTED,
                    `kafka refuses a message of ${bytes} bytes for ${g.topic}: ${info.name}`,
                    { retriable: false, context: { topic: g.topic, partition: g.partition, bytes, error: info.name } },
                  ),
                });
              }
              break;
            case 'fatal':
              fatal ??= fatalError(g);
              break;
            case 'refresh':
              refresh = true;
              retried.push(g);
              break;
            case 'new-producer':
              producerId = -1n;
              retried.push(g);
              break;
            case 'retry':
              retried.push(g);
              break;
          }
        }
        if (fatal) throw fatal;
        if (groups.every((g) => g.queue.length === 0)) {
          lastError = undefined;
          setState('ready');
          return;
        }
        // Only split halves of a refused batch are left: send them now, this is not a failure of Kafka.
        if (retried.length === 0) continue;
        const codes = [...new Set(retried.map((g) => g.code))];
        failure =
          errors[0] ??
          new VigieError(KAFKA_ERRORS.PRODUCE, `kafka refused the batch: ${codes.map(errorName).join(', ')}`, {
            retriable: true,
            context: { partitions: retried.length, codes },
          });
      } catch (error) {
        if (error instanceof VigieError && !error.retriable) {
          lastError = describeError(error);
          setState('failing', error);
          throw error;
        }
        failure = error;
        refresh = true;
      }
      const previous = lastError;
      lastError = describeError(failure);
      // Once per kind of failure, and every tenth attempt of the same one (a long outage says it is still there).
      if (attempt === 0 || attempt % 10 === 0 || lastError !== previous) {
        logger.warn({ attempt, error: lastError, messages: to - from }, 'kafka send failed; retrying');
      }
      setState('failing', failure);
      await sleep(backoffMs(attempt, { baseMs: 200, maxMs: maxBackoffMs }));
      attempt += 1;
    }
  };

  return {
    send(messages) {
      if (messages.length === 0) return chain.then(() => ({ rejected: [] }));
      // Packed now: the caller's message objects are not kept while the send waits (see PackedMessages).
      const packed = new PackedMessages(messages);
      const next = chain.then(async () => {
        const rejected: RejectedMessage[] = [];
        for (const [from, to] of runsBySize(packed.length, (i) => packed.size(i), maxRequestBytes)) {
          await sendOnce(packed, from, to, rejected);
        }
        return { rejected };
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
      cluster.close();
      setState('stopped');
    },
  };
}
