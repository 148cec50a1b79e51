import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { VigieError, backoffMs, describeError, type Logger } from '@vigie/runtime';

/** A message ready for Kafka: the value is already encoded by `@vigie/contract`. */
export interface OutgoingMessage {
  topic: string;
  key: string;
  value: Buffer;
}

/** What a producer is doing now; `failing` means sends are being retried (the caller should stop reading). */
export type ProducerState = 'idle' | 'ready' | 'failing' | 'stopped';

/** Options of {@link createReliableProducer}. */
export interface ReliableProducerOptions {
  logger: Logger;
  /** Called on every state change (metrics, readiness). */
  onStateChange?: (state: ProducerState, error?: unknown) => void;
  compression?: CompressionTypes;
  maxBackoffMs?: number;
}

/** At-least-once producer: {@link ReliableProducer.send} resolves only once Kafka acknowledged the whole batch. */
export interface ReliableProducer {
  /** Sends a batch and waits for the acknowledgement of every in-sync replica; retries until it lands or stop(). */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  readonly state: ProducerState;
  /** Why the last attempt failed, while `state` is `failing`. */
  readonly lastError: string | undefined;
  /** Lets an in-flight send finish (or fail), then disconnects. Pending sends reject with VIGIE_KAFKA_STOPPED. */
  stop(): Promise<void>;
}

function groupByTopic(messages: readonly OutgoingMessage[]) {
  const byTopic = new Map<string, { key: string; value: Buffer }[]>();
  for (const m of messages) {
    let list = byTopic.get(m.topic);
    if (!list) byTopic.set(m.topic, (list = []));
    list.push({ key: m.key, value: m.value });
  }
  return [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs }));
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
  { logger, onStateChange, compression = CompressionTypes.None, maxBackoffMs = 5000 }: ReliableProducerOptions,
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
      createPartitioner: Partitioners.DefaultPartitioner,
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
      const next = chain.then(() => sendOnce(messages));
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
