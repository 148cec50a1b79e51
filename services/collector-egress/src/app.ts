import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { Outbox } from '@vigie/collector-kit';
import {
  collectorHeartbeat,
  createOwnSessions,
  identityOfRow,
  type SourceHealth,
  type VigieEvent,
} from '@vigie/contract';
import { createKafka, createReliableProducer, ensureTopics, type KafkaClient } from '@vigie/kafka';
import type { CompiledPolicy } from '@vigie/policy';
import {
  buildHttpServer,
  createMetricsRegistry,
  describeError,
  rateLimited,
  type Logger,
  type Readiness,
} from '@vigie/runtime';
import { createSocketTracker, type KeyedEvent, type Observation } from './analyze-sockets.js';
import { createUnixSessionAnnouncer } from './analyze-unix-sessions.js';
import type { EgressConfig } from './config.js';
import { createEgressMetrics, type EgressMetrics } from './metrics.js';
import { createActivitySource, createSessionCache, type ActivitySource } from './source-pg-activity.js';
import { createCloseWatcher } from './source-ss-close.js';
import { sampleSockets } from './source-ss-sample.js';
import { runStartupChecks } from './startup-checks.js';
import { every, type Periodic } from './periodic.js';
import { EGRESS_ERRORS } from './errors.js';

/** What the collector is built from; everything but config, policy and logger has a default. */
export interface EgressDeps {
  policy: CompiledPolicy;
  logger: Logger;
  registry?: Registry;
  kafka?: KafkaClient;
  activity?: ActivitySource;
}

/** A running egress collector. */
export interface EgressCollector {
  /** Runs the startup checks (throws ConfigError listing every failure), then starts sampling and serving HTTP. */
  start(): Promise<void>;
  /** Stops sampling, sends what is pending, stops the ss child, closes connections. */
  stop(): Promise<void>;
  /** `host:port` of the HTTP server once started. */
  readonly httpAddress: string | undefined;
  readonly registry: Registry;
  readonly metrics: EgressMetrics;
}

/**
 * Builds the collector: every `intervalMs` it samples the server's established sockets, joins each to its session
 * through a cached pg_stat_activity (polled every `activityIntervalMs`), and follows socket-close events for final
 * counters; `egress.sample` events go to Kafka keyed `<cluster>/<session_id>`. No side effect before `start()`.
 */
export function createEgressCollector(config: Readonly<EgressConfig>, deps: EgressDeps): EgressCollector {
  const { policy, logger } = deps;
  const registry = deps.registry ?? createMetricsRegistry('collector-egress');
  const metrics = createEgressMetrics(registry);
  const instance = config.instance ?? hostname();
  const activity = deps.activity ?? createActivitySource(config.postgres);
  const cache = createSessionCache(config.activityRetentionMs);
  const tracker = createSocketTracker({ cluster: config.cluster, serverPort: config.serverPort, sessions: cache });
  const unix = createUnixSessionAnnouncer(config.cluster);
  const kafka = deps.kafka ?? createKafka(config.kafka, logger);
  const producer = createReliableProducer(config.kafka, {
    logger,
    onStateChange: (state) => metrics.kafkaUp.set(state === 'ready' ? 1 : 0),
  });
  const warn = rateLimited(10_000, (suppressed: number, what: string, error: unknown) =>
    logger.warn({ suppressed, error: describeError(error) }, what),
  );

  // The collector's own database session (read from pg_stat_activity's row of its backend at each poll) and the
  // role it connects as: both announced in its heartbeats, so the detector knows them for Vigie's own.
  const own = createOwnSessions();
  const accounts = [config.postgres.user];
  let activityError = false;
  let health: SourceHealth = { state: 'ok', since: new Date().toISOString() };
  // Cut by the collector: a sampling round's events leave together at its end, a burst of closes 50 ms after the
  // first. No position: nothing is checkpointed (a restart samples the sockets again).
  const outbox = new Outbox(producer, {
    collector: 'collector-egress',
    cluster: config.cluster,
    topics: config.topics,
    maxInFlightEvents: config.maxPendingEvents,
    metrics,
    onInvalid: (event, error) =>
      // A contract violation is a bug here, not bad input: say so loudly, but keep collecting.
      logger.error({ error: describeError(error), kind: event.kind }, 'event refused by the contract: dead-lettered'),
    onKafkaRejected: ({ error }, deadLettered) =>
      warn(deadLettered ? 'event refused by Kafka: dead-lettered' : 'dead letter refused by Kafka: dropped', error),
    onFailed: (error) => logger.error({ error: describeError(error) }, 'kafka refused the collector: events not sent'),
  });
  let closeFlush: NodeJS.Timeout | undefined;
  let lastSampleOkMs = Date.now();
  let started = false;
  let httpAddress: string | undefined;
  const http = buildHttpServer({ registry, readiness: () => readiness() });
  const loops: Periodic[] = [];

  const enqueue = (key: string | undefined, event: VigieEvent, droppable: boolean): void => {
    if (droppable && outbox.pending >= config.maxPendingEvents) {
      metrics.eventsDropped.inc();
      return;
    }
    outbox.add(event, { key });
  };

  const record = (obs: Observation): void => {
    for (const failure of obs.joinFailures) metrics.joinFailures.inc({ reason: failure });
    if (obs.closesMissed > 0) metrics.closesMissed.inc(obs.closesMissed);
    emit(obs.events, true);
  };

  const emit = (events: readonly KeyedEvent[], droppable: boolean): void => {
    for (const { key, event } of events) {
      if (event.bytesSentDelta > 0) {
        const addr = event.session?.clientAddr ?? event.peer?.addr;
        metrics.observedBytes.inc({ client_class: policy.clientClass(addr) }, event.bytesSentDelta);
      }
      enqueue(key, event, droppable);
    }
  };

  /**
   * Sends everything queued, in order; resolves once Kafka acknowledged it (retries forever meanwhile). What Kafka
   * refuses for good is dead-lettered; a refusal of the collector itself (authentication, TLS, an ACL) is logged
   * with its code and the readiness says so.
   */
  const flush = (): Promise<void> => outbox.flush();

  let refreshing: Promise<void> | undefined;
  /** One pg_stat_activity snapshot into the cache; concurrent callers share the same query. */
  const refreshActivity = (): Promise<void> => {
    refreshing ??= (async () => {
      try {
        const rows = await activity.snapshot();
        const now = new Date();
        activityError = false;
        for (const row of rows) {
          if (!row.self || row.user === null) continue;
          own.seen(
            identityOfRow({
              pid: row.pid,
              backend_start: row.backendStartEpoch,
              role: row.user,
              application_name: row.applicationName,
              client_addr: row.clientAddr ?? 'local',
              datname: row.database,
              backend_type: row.backendType,
            }),
            now.getTime(),
          );
        }
        cache.update(rows, now.getTime());
        emit(unix.observe(rows, now), false);
      } catch (error) {
        activityError = true;
        warn('pg_stat_activity poll failed; sockets wait for their session', error);
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  const sampleRound = async (): Promise<void> => {
    const startedAtMs = Date.now();
    const endTimer = metrics.sampleDuration.startTimer();
    try {
      const sample = await sampleSockets({
        ssCommand: config.ssCommand,
        serverPort: config.serverPort,
        timeoutMs: config.ssTimeoutMs,
      });
      for (const reason of sample.rejected) metrics.linesRejected.inc({ reason });
      // A client end never seen before: look its session up now rather than one activity period later.
      const unknown = sample.sockets.some(
        (s) =>
          s.local.port === config.serverPort && s.peer.port !== undefined && !cache.byPeer(s.peer.addr, s.peer.port),
      );
      if (unknown) await refreshActivity();
      record(tracker.observeSample(sample.sockets, new Date(startedAtMs), startedAtMs));
      metrics.socketsTracked.set(tracker.size);
      lastSampleOkMs = Date.now();
      // Awaiting Kafka here is the backpressure: no new round while the last one is unacknowledged.
      await flush();
    } catch (error) {
      metrics.samplesFailed.inc();
      warn('sampling round failed', error);
    } finally {
      endTimer();
    }
  };

  /** The sampling loop's health: blind when `ss` rounds fail, or when sockets cannot be joined to sessions. */
  const sourceHealth = (nowMs: number): SourceHealth => {
    const stale = nowMs - lastSampleOkMs > config.intervalMs * 5 + config.ssTimeoutMs;
    const error = stale ? EGRESS_ERRORS.SS_FAILED : activityError ? EGRESS_ERRORS.PG_QUERY : undefined;
    if ((error === undefined) !== (health.state === 'ok') || error !== health.error) {
      health = {
        state: error === undefined ? 'ok' : 'failing',
        since: new Date(nowMs).toISOString(),
        ...(error !== undefined && { error }),
      };
    }
    return health;
  };

  const heartbeat = async (): Promise<void> => {
    const now = new Date();
    const hb = sourceHealth(now.getTime());
    metrics.sourceUp.set(hb.state === 'ok' ? 1 : 0);
    enqueue(
      undefined,
      collectorHeartbeat({
        cluster: config.cluster,
        collector: 'collector-egress',
        instance,
        at: now,
        lagSeconds: Math.max(0, (now.getTime() - lastSampleOkMs) / 1000),
        health: hb,
        accounts,
        identities: own.list(now.getTime()),
      }),
      true,
    );
    await flush();
  };

  const closeWatcher = createCloseWatcher({
    ssCommand: config.ssCommand,
    stdbufCommand: config.stdbufCommand,
    serverPort: config.serverPort,
    logger,
    onClose: (socket, at) => {
      if (socket.local.port !== config.serverPort) return;
      metrics.closeEvents.inc();
      record(tracker.observeClose(socket, at));
      metrics.socketsTracked.set(tracker.size);
      // Finals leave within 50 ms rather than with the next round (which may be a long interval away); the short
      // wait batches a burst of closes (pgbench -C: ~70 closes/s) into one Kafka request.
      closeFlush ??= setTimeout(() => {
        closeFlush = undefined;
        flush().catch(() => undefined);
      }, 50);
    },
    onRejected: (reason) => metrics.linesRejected.inc({ reason }),
    onRestart: () => metrics.closeWatcherRestarts.inc(),
  });

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (!started) reasons.push('starting');
    if (producer.state === 'failing') reasons.push(`kafka: ${producer.lastError ?? 'send failing'}`);
    else if (outbox.failed) reasons.push('kafka: refused the collector; events are not sent');
    if (started && !closeWatcher.running) reasons.push('ss -E: close-event child not running (restarting)');
    if (started && Date.now() - lastSampleOkMs > config.intervalMs * 5 + config.ssTimeoutMs) {
      reasons.push('sampling: no successful ss round recently');
    }
    return { ready: reasons.length === 0, reasons };
  };

  return {
    registry,
    metrics,
    get httpAddress() {
      return httpAddress;
    },
    async start() {
      await ensureTopics(kafka, outbox.topics, {
        partitions: config.kafka.partitions,
        durability: config.kafka.topics,
        logger,
      });
      // Before the first connection (the startup checks open it): say which role this collector connects as, so
      // that the detector counts its sessions as Vigie's (announced) or misuse from their first log line.
      await heartbeat();
      await runStartupChecks({
        ssCommand: config.ssCommand,
        stdbufCommand: config.stdbufCommand,
        serverPort: config.serverPort,
        pg: config.postgres,
        activity,
      });
      // Listen for closes before the first sample, so no socket can close unseen in between.
      closeWatcher.start();
      await refreshActivity();
      lastSampleOkMs = Date.now();
      loops.push(every(config.activityIntervalMs, refreshActivity));
      loops.push(every(config.intervalMs, sampleRound));
      loops.push(every(config.heartbeatIntervalMs, heartbeat));
      await http.listen({ host: config.http.host, port: config.http.port });
      const address = http.server.address() as AddressInfo;
      httpAddress = `${address.address}:${address.port}`;
      started = true;
      logger.info(
        { serverPort: config.serverPort, intervalMs: config.intervalMs, http: httpAddress },
        'collector-egress started',
      );
    },
    async stop() {
      await Promise.all(loops.map((l) => l.stop()));
      await closeWatcher.stop();
      if (closeFlush) clearTimeout(closeFlush);
      await flush().catch(() => undefined);
      await producer.stop();
      await http.close();
      await activity.close();
    },
  };
}
