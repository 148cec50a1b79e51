import type { OutgoingMessage, RejectedMessage, ReliableProducer } from '@vigie/kafka';
import { describeError, type Logger } from '@vigie/runtime';

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
  /**
   * The dead letter that takes the place of a message Kafka refused for good (larger than the topic's
   * `max.message.bytes`, a record it rejects): the transaction's LSN is confirmed once the letter landed.
   */
  deadLetterOf: (rejected: RejectedMessage) => OutgoingMessage;
  /** Called for each message Kafka refused for good (metrics, a log line). */
  onRejected?: (rejected: RejectedMessage) => void;
  /**
   * Kafka refused the collector for good (authentication, TLS, a missing ACL) or the producer stopped: nothing more
   * is sent or confirmed; PostgreSQL keeps the WAL and sends it again after a restart.
   */
  onFailed?: (error: unknown) => void;
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
export function createKafkaSink({
  producer,
  logger,
  maxBatch,
  onConfirmed,
  onSent,
  deadLetterOf,
  onRejected,
  onFailed,
}: KafkaSinkOptions): KafkaSink {
  const queue: Entry[] = [];
  let inFlight = 0;
  let sending = false;
  /** Set for good once a send failed: nothing after it may be confirmed (it would confirm past lost events). */
  let failed = false;
  let waiters: { limit: number; resolve: () => void }[] = [];

  const notify = () => {
    const pending = queue.length + inFlight;
    const ready = waiters.filter((w) => pending <= w.limit);
    if (ready.length === 0) return;
    waiters = waiters.filter((w) => pending > w.limit);
    for (const w of ready) w.resolve();
  };

  const pump = () => {
    if (sending || failed || queue.length === 0) return;
    const batch = queue.splice(0, maxBatch);
    sending = true;
    inFlight = batch.length;
    const send = async () => {
      const { rejected } = await producer.send(batch.map((e) => e.message));
      if (rejected.length === 0) return;
      for (const r of rejected) onRejected?.(r);
      const letters = await producer.send(rejected.map(deadLetterOf));
      for (const r of letters.rejected) logger.error({ error: describeError(r.error) }, 'dead letter refused by Kafka');
    };
    send().then(
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
        // The producer stopped, or Kafka refused the collector for good (it retries everything else forever):
        // nothing is confirmed, the server will send these transactions again after a restart.
        sending = false;
        failed = true;
        inFlight = 0;
        logger.error(
          { dropped: batch.length + queue.length, error: describeError(error) },
          'kafka producer stopped or refused the collector: events unsent, not confirmed',
        );
        queue.length = 0;
        for (const w of waiters) w.resolve();
        waiters = [];
        onFailed?.(error);
      },
    );
  };

  return {
    push(message, ackLsn) {
      if (failed) return;
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
