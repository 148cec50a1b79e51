import { Outbox } from '@vigie/collector-kit';
import { collectorHeartbeat, type SourceHealth } from '@vigie/contract';
import {
  createKafka,
  createReliableProducer,
  ensureTopics,
  type ProducerState,
  type ReliableProducer,
} from '@vigie/kafka';
import {
  backoffMs,
  buildHttpServer,
  createMetricsRegistry,
  describeError,
  publicReadinessReasons,
  rateLimited,
  type Logger,
  type Readiness,
} from '@vigie/runtime';
import { createLogParser, unknownZones, type LogParser, type ParserOutput, type StatementAnalyzer } from '@vigie/pglog';
import { createSqlAnalyzer } from '@vigie/sql';
import type { Registry } from 'prom-client';
import { createCheckpointer, readCheckpoint } from './checkpoint.js';
import type { CollectorPglogConfig } from './config.js';
import { createCollectorMetrics } from './metrics.js';
import { auditSettingsEvent, compareSettings, readSettings } from './source-settings.js';
import { LogSourceError, LogTailer, logGapEvent, type LogPosition } from './source-tail.js';
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

/** System error codes the heartbeat may name (anything else is reported as `OTHER`): a small, fixed vocabulary. */
const KNOWN_ERRNOS = new Set(['EACCES', 'EPERM', 'ENOENT', 'EISDIR', 'ENOTDIR', 'EMFILE', 'ENFILE', 'EIO', 'ELOOP']);

/** Whether an error of the read loop comes from the file system (retried) rather than from a bug (fatal). */
function isSourceError(error: unknown): boolean {
  if (error instanceof LogSourceError) return true;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

function sourceErrorCode(error: unknown): string {
  const errno = error instanceof LogSourceError ? error.errno : (error as NodeJS.ErrnoException | undefined)?.code;
  return `${PGLOG_ERRORS.SOURCE_READ} ${errno !== undefined && KNOWN_ERRNOS.has(errno) ? errno : 'OTHER'}`;
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
  // Records counted locally and added to the counter once per read (prom-client cost ~0.6 µs per inc, at ~10⁵
  // records a second).
  const recordsByOutcome = { event: 0, merged: 0, ignored: 0, rejected: 0 };
  const flushRecordCounts = () => {
    for (const outcome of ['event', 'merged', 'ignored', 'rejected'] as const) {
      if (recordsByOutcome[outcome] > 0) metrics.recordsRead.inc({ outcome }, recordsByOutcome[outcome]);
      recordsByOutcome[outcome] = 0;
    }
  };
  const kafka = createKafka(config.kafka, logger);
  let producerState: ProducerState = 'idle';
  let producerError: string | undefined;
  const producer =
    deps.producer ??
    createReliableProducer(config.kafka, {
      logger,
      onStateChange: (state, error) => {
        producerState = state;
        metrics.kafkaUp.set(state === 'ready' ? 1 : 0);
        producerError = error === undefined ? undefined : describeError(error);
        if (state === 'failing') logger.warn({ error: producerError }, 'kafka unavailable: reading paused');
        if (state === 'ready') logger.info('kafka available: reading');
      },
    });
  const tailer = new LogTailer({
    format: config.source.format,
    pgData: config.source.pgData,
    logDirectory: config.source.logDirectory,
    pattern: config.source.pattern,
    chunkBytes: config.source.chunkBytes,
    maxRecordBytes: config.source.maxRecordBytes,
    onRotate: (from, to) => {
      metrics.rotations.inc();
      logger.info({ from, to }, 'log file switched');
    },
    onTruncate: (file) => {
      metrics.truncations.inc();
      logger.warn({ file }, 'log file truncated: reading it again from the start');
    },
    onLostFile: (file) => logger.warn({ file }, 'checkpointed log file is gone: resuming at the next file'),
    onSymlink: (path) => {
      metrics.symlinksRefused.inc();
      logSymlink(path);
    },
  });
  const logKafkaRejected = rateLimited(5000, (suppressed: number, error: string, deadLettered: boolean) =>
    logger.warn(
      { error, suppressed },
      deadLettered ? 'event refused by Kafka: dead-lettered' : 'dead letter refused by Kafka: dropped',
    ),
  );
  const logSymlink = rateLimited(60_000, (suppressed: number, path: string) =>
    logger.warn({ path, suppressed }, 'symbolic link in the log directory refused'),
  );
  const logRejected = rateLimited(5000, (suppressed: number, reason: string, file: string, offset: number) =>
    logger.warn({ reason, file, offset, suppressed }, 'record rejected to the dead-letter topic'),
  );

  let parser: LogParser | undefined;
  let sink: Outbox<LogPosition> | undefined;
  let running = false;
  let loop: Promise<void> | undefined;
  let server: ReturnType<typeof buildHttpServer> | undefined;
  let url: string | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let settingsTimer: NodeJS.Timeout | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  const checkpoint = createCheckpointer(config.checkpoint.file, () => parser?.sessions.snapshotRoles() ?? {});
  let atEof = false;
  /** Timestamp of the last event read (ISO text: parsed only by the heartbeat, not per event). */
  let lastEventTs: string | undefined;
  let recordsRead = 0;
  let eventsAcked = 0;
  let pausedReason: string | undefined;
  let fatal: string | undefined;
  /** The source loop's health: heartbeats, /readyz and `vigie_collector_source_up` report it. */
  let health: SourceHealth = { state: 'ok', since: new Date().toISOString() };
  let sourceFailures = 0;
  const logSourceFailure = rateLimited(30_000, (suppressed: number, attempt: number, error: unknown) =>
    logger.error(
      { attempt, suppressed, error: describeError(error) },
      'log source unreadable: reading stopped, retrying with backoff (events are not lost: the position is kept)',
    ),
  );
  metrics.sourceUp.set(1);

  /** A wait that `stop()` cuts short (a retry backoff can be long). */
  let wake: (() => void) | undefined;
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  function setHealth(state: SourceHealth['state'], error?: string): void {
    if (health.state === state && health.error === error) return;
    health = { state, since: new Date().toISOString(), ...(error !== undefined && { error }) };
    metrics.sourceUp.set(state === 'ok' ? 1 : 0);
  }

  /** The checkpoint candidate now: before the oldest statement still being merged, else after the last record. */
  function watermark(): LogPosition | undefined {
    const p = parser?.oldestPending();
    if (p !== undefined) {
      const id = tailer.identityOf(p.file);
      if (id) return { file: p.file, offset: p.offset, ...id };
    }
    return tailer.position();
  }

  function send(outputs: readonly ParserOutput[]): void {
    const s = sink as Outbox<LogPosition>;
    for (const o of outputs) {
      if (o.kind === 'deadletter') logRejected(o.reason, o.source.file ?? '', o.source.offset ?? 0);
      else lastEventTs = o.ts;
      s.add(o);
      // Kafka refuses a record batch above message.max.bytes (1 MiB by default): cut well below it.
      if (s.batchSize >= config.kafka.batchMaxEvents || s.batchBytes >= config.kafka.batchMaxBytes) s.cut(watermark());
    }
  }

  function heartbeat(): void {
    const now = new Date();
    const lagBytes = tailer.lagBytes();
    const lagSeconds =
      atEof || lastEventTs === undefined ? 0 : Math.max(0, (now.getTime() - Date.parse(lastEventTs)) / 1000);
    metrics.lagBytes.set(lagBytes);
    metrics.lagSeconds.set(lagSeconds);
    // A timer that keeps beating while the read loop is stuck would tell the detector all is well: the heartbeat
    // carries the loop's health. No identities: this collector reads files and holds no database session.
    const event = collectorHeartbeat({
      cluster: config.cluster,
      collector: 'collector-pglog',
      instance: config.instance,
      at: now,
      lagBytes,
      lagSeconds,
      health,
    });
    // Heartbeats join the stream like any event (same window), so they also stop when Kafka is down.
    if (sink && !sink.full()) {
      sink.add(event);
      sink.cut(watermark());
    }
  }

  const logCheckFailed = rateLimited(60_000, (suppressed: number, error: string) =>
    logger.warn({ error, suppressed }, 'audit settings check failed; retried at the next interval'),
  );

  let checking = false;
  /** Reads the server's audit settings and sends what drifted (an empty drift clears an earlier alert). */
  async function checkSettings(): Promise<void> {
    if (checking) return;
    checking = true;
    try {
      await checkSettingsOnce();
    } finally {
      checking = false;
    }
  }

  async function checkSettingsOnce(): Promise<void> {
    const c = config.settingsCheck;
    let result: ReturnType<typeof compareSettings>;
    try {
      const snapshot = await readSettings({
        host: c.host,
        port: c.port,
        user: c.user,
        database: c.database,
        ...(c.password !== undefined && { password: c.password }),
        connectionTimeoutMillis: 10_000,
      });
      result = compareSettings(snapshot, {
        format: config.source.format,
        pgauditClasses: c.pgauditClasses,
        allow: c.allow,
      });
    } catch (error) {
      metrics.settingsChecks.inc({ outcome: 'failed' });
      logCheckFailed(describeError(error));
      return;
    }
    metrics.settingsChecks.inc({ outcome: result.drift.length === 0 ? 'ok' : 'drift' });
    metrics.settingsDrift.set(result.drift.length);
    if (result.drift.length > 0) logger.error({ drift: result.drift }, 'server audit settings drifted');
    // Like heartbeats: into the stream when there is room (the next check sends it again otherwise).
    if (sink && !sink.full()) {
      sink.add(auditSettingsEvent(config.cluster, config.instance, result, new Date()));
      sink.cut(watermark());
    }
  }

  async function readLoop(): Promise<void> {
    const s = sink as Outbox<LogPosition>;
    const p = parser as LogParser;
    while (running) {
      if (s.full() || (producerState === 'failing' && s.inFlightCount > 0)) {
        pausedReason =
          producerState === 'failing'
            ? `kafka: ${producerError ?? 'unreachable'}; reading paused`
            : 'kafka: in-flight window full; reading paused';
        metrics.backpressure.set(1);
        try {
          await s.waitOne();
        } catch (error) {
          // Stopped, or refused for good (authentication, TLS, an ACL): reading stops, the checkpoint stays before
          // the batch (a restart re-sends it), readiness says why.
          if (running) {
            fatal = `kafka: ${describeError(error)}`;
            logger.error({ error: fatal }, 'kafka refuses the collector: reading stopped');
          }
          return;
        }
        continue;
      }
      pausedReason = undefined;
      metrics.backpressure.set(0);
      let read: Awaited<ReturnType<LogTailer['poll']>>;
      try {
        read = await tailer.poll();
      } catch (error) {
        if (!isSourceError(error)) throw error;
        // The file system said no (log_file_mode changed to 0600, a file vanished, an I/O error): nothing of the
        // failed read was consumed, so retry the same place with backoff, and say so in every heartbeat meanwhile.
        metrics.sourceFailures.inc();
        setHealth('failing', sourceErrorCode(error));
        logSourceFailure(sourceFailures, error);
        await nap(backoffMs(sourceFailures, { baseMs: config.source.retryBaseMs, maxMs: config.source.retryMaxMs }));
        sourceFailures += 1;
        continue;
      }
      if (sourceFailures > 0) {
        logger.info({ attempts: sourceFailures }, 'log source readable again: reading resumed');
        sourceFailures = 0;
      }
      setHealth('ok');
      for (const g of read.gaps) {
        metrics.logGaps.inc({ reason: g.reason });
        logger.error({ gap: g }, 'log file shrank or vanished before it was read to its end');
        send([logGapEvent(config.cluster, g, new Date())]);
      }
      if (read.invalidUtf8Bytes > 0) metrics.invalidUtf8Bytes.inc(read.invalidUtf8Bytes);
      let bytes = 0;
      for (const r of read.records) {
        bytes += r.bytes;
        send(p.push(r));
      }
      metrics.bytesRead.inc(bytes);
      flushRecordCounts();
      recordsRead += read.records.length;
      atEof = read.eof;
      if (read.eof) {
        send(p.flush(config.source.mergeFlushMs));
        s.cut(watermark());
        await sleep(config.source.pollIntervalMs);
      } else if (s.inFlightCount === 0) {
        // Kafka is idle: send now. Otherwise the batch grows until send() cuts it at batchMaxEvents/batchMaxBytes
        // or Kafka has acknowledged everything in flight: fewer, fuller produce requests when Kafka is the bottleneck.
        s.cut(watermark());
      }
    }
  }

  return {
    get url() {
      return url;
    },
    stats: () => ({ recordsRead, eventsAcked, inFlight: sink?.pending ?? 0, position: checkpoint.position }),
    sourceHealth: () => health,
    readiness() {
      const reasons: string[] = [];
      if (fatal) reasons.push(fatal);
      else if (health.state === 'failing') reasons.push(`source: ${health.error ?? 'failing'} since ${health.since}`);
      if (!running) reasons.push('not started');
      if (pausedReason) reasons.push(pausedReason);
      if (running && tailer.currentFile === undefined) reasons.push('source: no log file found yet');
      const ready = reasons.length === 0;
      // Anonymous callers see components only, except the source's error code and errno (`VIGIE_PGLOG_SOURCE_READ
      // EACCES`): no path, no message, and it is what the operator needs to act.
      const summary = publicReadinessReasons({ ready, reasons }).map((r, i) =>
        !fatal && i === 0 && health.state === 'failing' && health.error !== undefined ? `source: ${health.error}` : r,
      );
      return { ready, reasons, summary };
    },
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
      parser = createLogParser({
        cluster: config.cluster,
        analyzer,
        redaction: { enabled: config.redaction.enabled },
        maxSessions: config.source.maxSessions,
        onRecord: (outcome, reason) => {
          recordsByOutcome[outcome] += 1;
          if (reason) metrics.rejected.inc({ component: 'collector-pglog', reason });
        },
        onEvict: (n) => metrics.sessionEvictions.inc(n),
      });
      if (saved) parser.sessions.restoreRoles(saved.roles, Date.now());
      sink = new Outbox<LogPosition>(producer, {
        collector: 'collector-pglog',
        cluster: config.cluster,
        topics: config.topics,
        maxInFlightEvents: config.kafka.maxInFlightEvents,
        maxInFlightBytes: config.kafka.maxInFlightBytes,
        validateEvery: config.validateEvery,
        metrics,
        onInvalid: (event, error) =>
          logger.error(
            { kind: event.kind, id: event.id, error: describeError(error) },
            'event refused by the contract',
          ),
        onKafkaRejected: ({ error }, deadLettered) => {
          logKafkaRejected(describeError(error), deadLettered);
        },
        // The outbox's acknowledged watermark is the checkpoint: nothing else moves it.
        onAcknowledged: (position, kinds) => {
          eventsAcked += kinds.length;
          checkpoint.acknowledged(position);
        },
      });
      await tailer.start(saved?.position, config.checkpoint.startAt);
      logger.info(
        { file: tailer.currentFile, offset: tailer.position()?.offset, fromCheckpoint: saved !== undefined },
        'collector-pglog reading',
      );
      running = true;
      server = buildHttpServer({ registry, readiness: () => this.readiness() });
      url = await server.listen({ host: config.http.host, port: config.http.port });
      checkpointTimer = setInterval(() => {
        metrics.sessions.set(parser?.sessions.size ?? 0);
        metrics.checkpointAge.set(sink && sink.pending > 0 ? checkpoint.sinceAdvanceMs() / 1000 : 0);
        for (const zone of unknownZones()) logger.warn({ zone }, 'log_timezone abbreviation read as UTC');
        checkpoint
          .save()
          .catch((error: unknown) =>
            logger.error({ error: describeError(error) }, 'checkpoint write failed; will retry'),
          );
      }, config.checkpoint.intervalMs);
      heartbeatTimer = setInterval(heartbeat, config.heartbeatIntervalMs);
      if (config.settingsCheck.enabled) {
        void checkSettings();
        settingsTimer = setInterval(() => void checkSettings(), config.settingsCheck.intervalMs);
      }
      loop = readLoop().catch((error: unknown) => {
        fatal = `source: ${describeError(error)}`;
        setHealth('failing', PGLOG_ERRORS.READ_LOOP);
        logger.error({ error: fatal }, 'read loop failed: the collector reads nothing more');
        deps.onFatal?.(error);
      });
    },
    async stop() {
      running = false;
      wake?.();
      clearInterval(heartbeatTimer);
      clearInterval(settingsTimer);
      clearInterval(checkpointTimer);
      await loop;
      // Statements still being merged are not flushed: the checkpoint stays before them, a restart re-reads them.
      if (sink && sink.batchSize > 0) sink.cut(watermark());
      await Promise.race([sink?.drain().catch(() => undefined), sleep(10_000)]);
      await producer.stop();
      await checkpoint.save();
      await tailer.close();
      await server?.close();
    },
  };
}
