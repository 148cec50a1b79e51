import { VigieError, backoffMs, describeError, type Logger } from '@vigie/runtime';
import type { KafkaSettings } from './client.js';
import { Cluster, type TopicLayout } from './wire/cluster.js';
import { detachString } from './text-arena.js';
import { partitionForKey } from './wire/hash.js';
import {
  API,
  errorName,
  readInitProducerId,
  readProduce,
  writeInitProducerId,
  writeProduce,
  type PartitionBatch,
} from './wire/protocol.js';

/**
 * A message ready for Kafka: the value is already encoded by `@vigie/contract`. A string value is the UTF-8 JSON
 * text itself: the producer writes it straight into the record batch, which saves a Buffer copy per message.
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

/** Kafka error codes, by what the producer does about them. */
const TOO_LARGE = new Set([10, 18]); // MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE
const STALE_METADATA = new Set([3, 5, 6, 13, 74, 75]); // unknown partition, no/other leader, network, leader epoch
/**
 * After these the same batches are re-sent with the same sequence numbers; after any other (OUT_OF_ORDER_SEQUENCE_NUMBER,
 * INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID: the broker lost this producer's state; or a code we do not know) the
 * producer takes a new id first.
 */
const SAME_PRODUCER = new Set([...STALE_METADATA, 7, 19, 20]); // + request timed out, not enough replicas
const DUPLICATE_SEQUENCE = 46; // the broker has this batch already: it landed

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

/** One partition's share of a send, with the outcome of its last attempt. */
interface Group {
  topic: string;
  partition: number;
  messages: OutgoingMessage[];
  errorCode: number;
}

/** Groups messages by topic and partition, in order within each partition. */
function groupMessages(
  messages: readonly OutgoingMessage[],
  layouts: ReadonlyMap<string, TopicLayout>,
  partitions: PartitionCache,
): Group[] {
  const groups: Group[] = [];
  const byTopic = new Map<string, Group[]>();
  for (const m of messages) {
    let slots = byTopic.get(m.topic);
    if (!slots) byTopic.set(m.topic, (slots = []));
    const count = layouts.get(m.topic)?.leaders.length ?? 1;
    const partition = partitions.get(m.key, count);
    let g = slots[partition];
    if (!g) {
      g = slots[partition] = { topic: m.topic, partition, messages: [], errorCode: -1 };
      groups.push(g);
    }
    g.messages.push(m);
  }
  return groups;
}

/** Sequence numbers wrap to 0 after 2^31 - 1, as the broker expects. */
const nextSequence = (seq: number, n: number) => (seq + n) % 2 ** 31;

/**
 * Creates the producer every service uses: Kafka's own produce protocol (record batches of magic 2, written straight
 * from the event text, CRC-32C, murmur2 partitions like the Java client), idempotent (a producer id and a sequence
 * number per partition, so a batch re-sent after a lost response is recognised by the broker instead of written
 * twice), acks from all in-sync replicas, one request per partition leader at a time, sends in order.
 *
 * Why not kafkajs's producer (kafkajs stays for consumers and topic admin): it encodes each record through generic
 * encoders with several buffer copies and a CRC in JS per batch; on the log collector's hot path it cost 6.7
 * CPU-seconds per 500,000 events before any parsing (bench/pglog-throughput.ts), more than the collector's whole
 * budget allows.
 *
 * A failed send is retried forever with backoff: a connection or leadership problem re-sends the same batches with
 * the same sequence numbers after refreshing metadata; a producer-state problem (the broker forgot this producer,
 * e.g. after losing its data) takes a new producer id and re-sends, so a duplicate is possible there (at-least-once;
 * event ids are deterministic, consumers recognise them).
 */
export function createReliableProducer(
  settings: KafkaSettings,
  { logger, onStateChange, maxBackoffMs = 5000, maxRequestBytes = 512 * 1024 }: ReliableProducerOptions,
): ReliableProducer {
  const requestTimeoutMs = settings.requestTimeoutMs ?? 30_000;
  const cluster = new Cluster({
    brokers: settings.brokers,
    clientId: settings.clientId,
    connectTimeoutMs: settings.connectionTimeoutMs ?? 3000,
    // The broker answers a produce request by its own timeout (below) before the connection gives up on it.
    requestTimeoutMs: requestTimeoutMs + 5000,
    logger,
  });
  const partitions = new PartitionCache();
  const sequences = new Map<string, number>();
  let producerId = -1n;
  let producerEpoch = -1;
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

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const initProducerId = async () => {
    const conn = await cluster.any();
    const answer = readInitProducerId(await conn.request(API.InitProducerId, writeInitProducerId));
    if (answer.errorCode !== 0) {
      throw new VigieError('VIGIE_KAFKA_PRODUCER_ID', `InitProducerId refused: ${errorName(answer.errorCode)}`, {
        retriable: true,
      });
    }
    producerId = answer.producerId;
    producerEpoch = answer.producerEpoch;
    sequences.clear();
  };

  /** Sends every group to its leader, one request per leader; sets each group's `errorCode` (0 = landed). */
  const produce = async (groups: readonly Group[], layouts: ReadonlyMap<string, TopicLayout>) => {
    const byLeader = new Map<number, Group[]>();
    for (const g of groups) {
      const leader = layouts.get(g.topic)?.leaders[g.partition] ?? -1;
      if (leader < 0) {
        g.errorCode = 5; // LEADER_NOT_AVAILABLE
        continue;
      }
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push(g);
    }
    const timestamp = Date.now();
    const requests = [...byLeader].map(async ([leader, list]) => {
      const topics = new Map<string, PartitionBatch[]>();
      for (const g of list) {
        let batches = topics.get(g.topic);
        if (!batches) topics.set(g.topic, (batches = []));
        const baseSequence = sequences.get(`${g.topic}\u0000${g.partition}`) ?? 0;
        batches.push({ partition: g.partition, records: g.messages, baseSequence });
      }
      try {
        const conn = await cluster.node(leader);
        const results = readProduce(
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
        for (const r of results) {
          const g = list.find((x) => x.topic === r.topic && x.partition === r.partition);
          if (!g) continue;
          g.errorCode = r.errorCode === DUPLICATE_SEQUENCE ? 0 : r.errorCode;
          if (g.errorCode === 0) {
            const key = `${g.topic}\u0000${g.partition}`;
            sequences.set(key, nextSequence(sequences.get(key) ?? 0, g.messages.length));
          }
        }
        for (const g of list)
          if (!results.some((r) => r.topic === g.topic && r.partition === g.partition)) g.errorCode = 13;
      } catch (error) {
        for (const g of list) g.errorCode = 13; // NETWORK_EXCEPTION: outcome unknown, re-sent with the same sequence
        throw error;
      }
    });
    const settled = await Promise.allSettled(requests);
    return settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  };

  const sendOnce = async (messages: readonly OutgoingMessage[]) => {
    const topics = [...new Set(messages.map((m) => m.topic))];
    let groups: Group[] | undefined;
    let refresh = false;
    for (let attempt = 0; ; attempt += 1) {
      if (stopped) throw new VigieError('VIGIE_KAFKA_STOPPED', 'producer stopped before the batch was acknowledged');
      let failure: unknown;
      try {
        if (producerId < 0n) await initProducerId();
        const layouts = await cluster.layout(topics, refresh);
        refresh = false;
        groups ??= groupMessages(messages, layouts, partitions);
        const errors = await produce(groups, layouts);
        groups = groups.filter((g) => g.errorCode !== 0);
        if (groups.length === 0) {
          lastError = undefined;
          setState('ready');
          return;
        }
        const codes = [...new Set(groups.map((g) => g.errorCode))];
        if (codes.some((c) => TOO_LARGE.has(c))) {
          // Requests are split below the broker's limit, so only a single message above it gets here: the caller
          // must dead-letter it; retrying forever would stall the whole stream behind it.
          throw new VigieError('VIGIE_KAFKA_MESSAGE_TOO_LARGE', 'the broker refuses a message larger than its limit', {
            retriable: false,
            context: {
              messages: messages.length,
              bytes: messages.reduce((n, m) => n + valueBytes(m.value), 0),
              error: codes.map(errorName).join(', '),
            },
          });
        }
        if (codes.some((c) => STALE_METADATA.has(c))) refresh = true;
        if (codes.some((c) => !SAME_PRODUCER.has(c))) producerId = -1n;
        failure =
          errors[0] ??
          new VigieError('VIGIE_KAFKA_PRODUCE', `kafka refused the batch: ${codes.map(errorName).join(', ')}`, {
            retriable: true,
            context: { partitions: groups.length, codes },
          });
      } catch (error) {
        if (error instanceof VigieError && !error.retriable) throw error;
        failure = error;
        refresh = true;
      }
      lastError = describeError(failure);
      if (attempt === 0 || attempt % 10 === 0) {
        logger.warn({ attempt, error: lastError, messages: messages.length }, 'kafka send failed; retrying');
      }
      setState('failing', failure);
      await sleep(backoffMs(attempt, { baseMs: 200, maxMs: maxBackoffMs }));
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
      cluster.close();
      setState('stopped');
    },
  };
}
