import type { Outbox } from '@vigie/collector-kit';
import type { ProducerState } from '@vigie/kafka';
import type { LogParser } from '@vigie/pglog';
import { describeError, type Logger } from '@vigie/runtime';
import type { Batching } from './batching.js';
import type { CollectorPglogConfig } from './config.js';
import type { CollectorMetrics } from './metrics.js';
import { createSourceRetry, isSourceError, type ReadHealth } from './read-health.js';
import type { RecordCounts } from './record-counts.js';
import { logGapEvent, type LogPosition, type LogTailer } from './source-tail.js';

/** What the read loop tells the rest of the collector (readiness, heartbeat, stats); `running` is the app's. */
export interface LoopStatus {
  running: boolean;
  pausedReason: string | undefined;
  fatal: string | undefined;
  atEof: boolean;
  recordsRead: number;
}

export interface ReadLoopOptions {
  config: Pick<CollectorPglogConfig, 'cluster' | 'source'>;
  tailer: LogTailer;
  metrics: CollectorMetrics;
  logger: Logger;
  health: ReadHealth;
  counts: RecordCounts;
  producer: () => { state: ProducerState; error: string | undefined };
  status: LoopStatus;
}

/** What the read loop reads into, built at start: the parser, the outbox, the batches cut between them. */
export interface Pipeline {
  sink: Outbox<LogPosition>;
  parser: LogParser;
  batching: Batching;
}

/** The read loop: tail → parser → batches, paused while Kafka's window is full, retrying an unreadable source. */
export interface ReadLoop {
  run(pipeline: Pipeline): Promise<void>;
  /** Cuts a retry backoff short (at stop). */
  wake(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createReadLoop({
  config,
  tailer,
  metrics,
  logger,
  health,
  counts,
  producer,
  status,
}: ReadLoopOptions): ReadLoop {
  const retry = createSourceRetry({
    health,
    metrics,
    logger,
    retryBaseMs: config.source.retryBaseMs,
    retryMaxMs: config.source.retryMaxMs,
  });

  async function run({ sink: s, parser: p, batching }: Pipeline): Promise<void> {
    while (status.running) {
      const kafka = producer();
      if (s.full() || (kafka.state === 'failing' && s.inFlightCount > 0)) {
        status.pausedReason =
          kafka.state === 'failing'
            ? `kafka: ${kafka.error ?? 'unreachable'}; reading paused`
            : 'kafka: in-flight window full; reading paused';
        metrics.backpressure.set(1);
        try {
          await s.waitOne();
        } catch (error) {
          // Stopped, or refused for good (authentication, TLS, an ACL): reading stops, the checkpoint stays before
          // the batch (a restart re-sends it), readiness says why.
          if (status.running) {
            status.fatal = `kafka: ${describeError(error)}`;
            logger.error({ error: status.fatal }, 'kafka refuses the collector: reading stopped');
          }
          return;
        }
        continue;
      }
      status.pausedReason = undefined;
      metrics.backpressure.set(0);
      let read: Awaited<ReturnType<LogTailer['poll']>>;
      try {
        read = await tailer.poll();
      } catch (error) {
        if (!isSourceError(error)) throw error;
        // The file system said no (log_file_mode changed to 0600, a file vanished, an I/O error): nothing of the
        // failed read was consumed, so retry the same place with backoff, and say so in every heartbeat meanwhile.
        await retry.failed(error);
        continue;
      }
      retry.succeeded();
      for (const g of read.gaps) {
        metrics.logGaps.inc({ reason: g.reason });
        logger.error({ gap: g }, 'log file shrank or vanished before it was read to its end');
        batching.send([logGapEvent(config.cluster, g, new Date())]);
      }
      if (read.invalidUtf8Bytes > 0) metrics.invalidUtf8Bytes.inc(read.invalidUtf8Bytes);
      let bytes = 0;
      for (const r of read.records) {
        bytes += r.bytes;
        batching.send(p.push(r));
      }
      metrics.bytesRead.inc(bytes);
      counts.flush();
      status.recordsRead += read.records.length;
      status.atEof = read.eof;
      if (read.eof) {
        batching.send(p.flush(config.source.mergeFlushMs));
        batching.cut();
        await sleep(config.source.pollIntervalMs);
      } else if (s.inFlightCount === 0) {
        // Kafka is idle: send now. Otherwise the batch grows until send() cuts it at batchMaxEvents/batchMaxBytes
        // or Kafka has acknowledged everything in flight: fewer, fuller produce requests when Kafka is the bottleneck.
        batching.cut();
      }
    }
  }

  return { run, wake: () => retry.wake() };
}
