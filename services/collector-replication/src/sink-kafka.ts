import type { OutgoingMessage, ReliableProducer } from '@vigie/kafka';
import type { Logger } from '@vigie/runtime';

/** Options of {@link createKafkaSink}. */
export interface KafkaSinkOptions {
  producer: ReliableProducer;
  logger: Logger;
  /** Messages per Kafka request. */
  maxBatch: number;
  /** Called in order with the highest `ackLsn` of each batch Kafka acknowledged. */
  onConfirmed: (lsn: bigint) => void;
  /** Called with how many messages Kafka acknowledged. */
  onSent?: (count: number) => void;
}

/** Batches events to Kafka and reports, in order, the LSN up to which everything is stored. */
export interface KafkaSink {
  /** Queues a message; `ackLsn` is the commit LSN it makes safe to confirm (none for health events). */
  push(message: OutgoingMessage, ackLsn?: bigint): void;
  /** Messages queued or in flight. */
  readonly pending: number;
  /** Resolves once at most `limit` messages are pending (backpressure for the reader). */
  whenAtMost(limit: number): Promise<void>;
  /** Resolves once everything queued so far is acknowledged (or the producer stopped). */
  flush(): Promise<void>;
}

interface Entry {
  message: OutgoingMessage;
  ackLsn: bigint | undefined;
}

/**
 * One batch in flight at a time (the reliable producer is sequential anyway); while it flies, new events queue up
 * and leave together in the next request, so batching grows with load without a linger timer. Confirmations follow
 * Kafka's acknowledgements in queue order, which is commit order.
 */
export function createKafkaSink({ producer, logger, maxBatch, onConfirmed, onSent }: KafkaSinkOptions): KafkaSink {
  const queue: Entry[] = [];
  let inFlight = 0;
  let sending = false;
  let waiters: { limit: number; resolve: () => void }[] = [];

  const notify = () => {
    const pending = queue.length + inFlight;
    const ready = waiters.filter((w) => pending <= w.limit);
    if (ready.length === 0) return;
    waiters = waiters.filter((w) => pending > w.limit);
    for (const w of ready) w.resolve();
  };

  const pump = () => {
    if (sending || queue.length === 0) return;
    const batch = queue.splice(0, maxBatch);
    sending = true;
    inFlight = batch.length;
    producer.send(batch.map((e) => e.message)).then(
      () => {
        let lsn: bigint | undefined;
        for (const e of batch) if (e.ackLsn !== undefined && (lsn === undefined || e.ackLsn > lsn)) lsn = e.ackLsn;
        sending = false;
        inFlight = 0;
        onSent?.(batch.length);
        if (lsn !== undefined) onConfirmed(lsn);
        notify();
        pump();
      },
      (error: unknown) => {
        // Only a stopped producer rejects (it retries everything else forever): nothing is confirmed, the server
        // will send these transactions again after a restart.
        sending = false;
        inFlight = 0;
        logger.warn({ dropped: batch.length + queue.length, err: error }, 'producer stopped with events unsent');
        queue.length = 0;
        for (const w of waiters) w.resolve();
        waiters = [];
      },
    );
  };

  return {
    push(message, ackLsn) {
      queue.push({ message, ackLsn });
      pump();
    },
    get pending() {
      return queue.length + inFlight;
    },
    whenAtMost(limit) {
      if (queue.length + inFlight <= limit) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ limit, resolve }));
    },
    flush() {
      return this.whenAtMost(0);
    },
  };
}
