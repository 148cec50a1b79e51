import type { SourceHealth, VigieEvent } from '@vigie/contract';
import { createKafka, ensureTopics, type ReliableProducer } from '@vigie/kafka';
import {
  buildHttpServer,
  createMetricsRegistry,
  describeError,
  rateLimited,
  type Logger,
  type Readiness,
} from '@vigie/runtime';
import { createLogParser, type StatementAnalyzer } from '@vigie/pglog';
import { createSqlAnalyzer } from '@vigie/sql';
import type { Registry } from 'prom-client';
import { createBatching } from './batching.js';
import { createCheckpointer, readCheckpoint } from './checkpoint.js';
import { createCheckpointDriver } from './checkpoint-driver.js';
import type { CollectorPglogConfig } from './config.js';
import { createHeartbeat } from './heartbeat.js';
import { createPglogProducer } from './kafka-producer.js';
import { createLogTailer } from './log-tailer.js';
import { createCollectorMetrics } from './metrics.js';
import { createPglogOutbox } from './pglog-outbox.js';
import { createReadHealth } from './read-health.js';
import { createReadLoop, type LoopStatus, type Pipeline } from './read-loop.js';
import { pglogReadiness } from './readiness.js';
import { createRecordCounts } from './record-counts.js';
import { createSettingsCheck } from './settings-check.js';
import type { LogPosition } from './source-tail.js';
import { PGLOG_ERRORS } from './errors.js';

/** Dependencies a test or an embedding program may replace. */
export interface CollectorDeps {
  logger: Logger;
  registry?: Registry;
  /** Defaults to `@vigie/sql`'s analyzer built from the config. */
  analyzer?: StatementAnalyzer;
  /** Defaults to a reliable producer on `config.kafka`. */
  producer?: ReliableProducer;
  /**
   * The read loop met an error that retrying cannot fix (a bug, not the file system): `main.ts` stops the service
   * with a failure exit so that a supervisor restarts it from the checkpoint. Without it the loop stays stopped and
   * the collector reports itself failing (heartbeat, /readyz, `vigie_collector_source_up`).
   */
  onFatal?: (error: unknown) => void;
}

/** A running collector. */
export interface CollectorPglog {
  /** Creates topics, restores the checkpoint, starts the HTTP server and the read loop. */
  start(): Promise<void>;
  /** Stops reading, waits for what is in flight, writes the checkpoint, disconnects. */
  stop(): Promise<void>;
  readiness(): Readiness;
  /** Address of the HTTP server once started. */
  readonly url: string | undefined;
  /** Counters for tests and benchmarks. */
  stats(): { recordsRead: number; eventsAcked: number; inFlight: number; position: LogPosition | undefined };
  /** Whether the log is being read, as heartbeats report it. */
  sourceHealth(): SourceHealth;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Builds collector-pglog: tail the server log → parse and merge → Kafka, with the checkpoint moved only to
 * positions whose every earlier event Kafka acknowledged. No side effects until `start()`.
 */
export function createCollectorPglog(config: Readonly<CollectorPglogConfig>, deps: CollectorDeps): CollectorPglog {
  const { logger } = deps;
  const registry = deps.registry ?? createMetricsRegistry('collector-pglog');
  const metrics = createCollectorMetrics(registry);
  const counts = createRecordCounts(metrics);
  const kafka = createKafka(config.kafka, logger);
  const { producer, status: producerStatus } = createPglogProducer(config.kafka, metrics, logger, deps.producer);
  const tailer = createLogTailer(config.source, metrics, logger);
  const logRejected = rateLimited(5000, (suppressed: number, reason: string, file: string, offset: number) =>
    logger.warn({ reason, file, offset, suppressed }, 'record rejected to the dead-letter topic'),
  );

  /** Built at start: the parser, the outbox and the batches cut between them. */
  let pipeline: Pipeline | undefined;
  let loop: Promise<void> | undefined;
  let server: ReturnType<typeof buildHttpServer> | undefined;
  let url: string | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  const checkpoint = createCheckpointer(config.checkpoint.file, () => pipeline?.parser.sessions.snapshotRoles() ?? {});
  let eventsAcked = 0;
  const status: LoopStatus = {
    running: false,
    pausedReason: undefined,
    fatal: undefined,
    atEof: false,
    recordsRead: 0,
  };
  const health = createReadHealth((h) => metrics.sourceUp.set(h.state === 'ok' ? 1 : 0));
  metrics.sourceUp.set(1);

  const offer = (event: VigieEvent) => pipeline?.batching.offer(event);
  const heartbeat = createHeartbeat({
    cluster: config.cluster,
    instance: config.instance,
    metrics,
    lagBytes: () => tailer.lagBytes(),
    atEof: () => status.atEof,
    lastEventTs: () => pipeline?.batching.lastEventTs,
    health: () => health.current,
    offer,
  });
  const settingsCheck = createSettingsCheck({ config, metrics, logger, offer });
  const checkpointDriver = createCheckpointDriver({
    checkpoint,
    intervalMs: config.checkpoint.intervalMs,
    metrics,
    logger,
    sessions: () => pipeline?.parser.sessions.size ?? 0,
    pending: () => pipeline?.sink.pending ?? 0,
  });
  const readLoop = createReadLoop({
    config,
    tailer,
    metrics,
    logger,
    health,
    counts,
    producer: producerStatus,
    status,
  });

  return {
    get url() {
      return url;
    },
    stats: () => ({
      recordsRead: status.recordsRead,
      eventsAcked,
      inFlight: pipeline?.sink.pending ?? 0,
      position: checkpoint.position,
    }),
    sourceHealth: () => health.current,
    readiness: (): Readiness =>
      pglogReadiness({
        fatal: status.fatal,
        health: health.current,
        running: status.running,
        pausedReason: status.pausedReason,
        hasFile: tailer.currentFile !== undefined,
      }),
    async start() {
      if (!config.redaction.enabled) {
        logger.warn(
          'redaction.enabled is false: statement literals, parameter-free messages and excerpts leave the collector unredacted',
        );
      }
      const analyzer =
        deps.analyzer ??
        (await createSqlAnalyzer({
          cacheSize: config.analysis.cacheSize,
          ...(config.redaction.hmacKey === undefined ? {} : { hmacKey: config.redaction.hmacKey }),
        }));
      await ensureTopics(kafka, [config.topics.activity, config.topics.deadletter], {
        durability: config.kafka.topics,
        logger,
      });
      const saved = await readCheckpoint(config.checkpoint.file);
      const parser = createLogParser({
        cluster: config.cluster,
        analyzer,
        redaction: { enabled: config.redaction.enabled },
        maxSessions: config.source.maxSessions,
        onRecord: (outcome, reason) => {
          counts.count(outcome);
          if (reason) metrics.rejected.inc({ component: 'collector-pglog', reason });
        },
        onEvict: (n) => metrics.sessionEvictions.inc(n),
      });
      if (saved) parser.sessions.restoreRoles(saved.roles, Date.now());
      const sink = createPglogOutbox(producer, {
        config,
        metrics,
        logger,
        // The outbox's acknowledged watermark is the checkpoint: nothing else moves it.
        onAcknowledged: (position: LogPosition | undefined, kinds) => {
          eventsAcked += kinds.length;
          checkpoint.acknowledged(position);
        },
      });
      const batching = createBatching({
        sink,
        parser,
        tailer,
        batchMaxEvents: config.kafka.batchMaxEvents,
        batchMaxBytes: config.kafka.batchMaxBytes,
        onRejected: logRejected,
      });
      pipeline = { parser, sink, batching };
      await tailer.start(saved?.position, config.checkpoint.startAt);
      logger.info(
        { file: tailer.currentFile, offset: tailer.position()?.offset, fromCheckpoint: saved !== undefined },
        'collector-pglog reading',
      );
      status.running = true;
      server = buildHttpServer({ registry, readiness: () => this.readiness() });
      url = await server.listen({ host: config.http.host, port: config.http.port });
      checkpointDriver.start();
      heartbeatTimer = setInterval(heartbeat, config.heartbeatIntervalMs);
      settingsCheck.start();
      loop = readLoop.run(pipeline).catch((error: unknown) => {
        status.fatal = `source: ${describeError(error)}`;
        health.set('failing', PGLOG_ERRORS.READ_LOOP);
        logger.error({ error: status.fatal }, 'read loop failed: the collector reads nothing more');
        deps.onFatal?.(error);
      });
    },
    async stop() {
      status.running = false;
      readLoop.wake();
      clearInterval(heartbeatTimer);
      settingsCheck.stop();
      checkpointDriver.stop();
      await loop;
      // Statements still being merged are not flushed: the checkpoint stays before them, a restart re-reads them.
      if (pipeline && pipeline.sink.batchSize > 0) pipeline.batching.cut();
      await Promise.race([pipeline?.sink.drain().catch(() => undefined), sleep(10_000)]);
      await producer.stop();
      await checkpoint.save();
      await tailer.close();
      await server?.close();
    },
  };
}
