import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { Outbox } from '@vigie/collector-kit';
import { createOwnSessions } from '@vigie/contract';
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
import { createActivityRefresher } from './activity-refresh.js';
import { createSocketTracker } from './analyze-sockets.js';
import { createUnixSessionAnnouncer } from './analyze-unix-sessions.js';
import type { EgressConfig } from './config.js';
import { createEgressMetrics, type EgressMetrics } from './metrics.js';
import { createActivitySource, createSessionCache, type ActivitySource } from './source-pg-activity.js';
import { runStartupChecks } from './startup-checks.js';
import { every, type Periodic } from './periodic.js';
import { createCloseEvents } from './close-events.js';
import { createEgressEvents } from './egress-events.js';
import { createEgressHeartbeat } from './egress-heartbeat.js';
import { createSamplingRound } from './sampling-round.js';

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
  let started = false;
  let httpAddress: string | undefined;
  const http = buildHttpServer({ registry, readiness: () => readiness() });
  const loops: Periodic[] = [];

  const events = createEgressEvents({ outbox, maxPendingEvents: config.maxPendingEvents, metrics, policy });
  /**
   * Sends everything queued, in order; resolves once Kafka acknowledged it (retries forever meanwhile). What Kafka
   * refuses for good is dead-lettered; a refusal of the collector itself (authentication, TLS, an ACL) is logged
   * with its code and the readiness says so.
   */
  const flush = (): Promise<void> => outbox.flush();
  const refresher = createActivityRefresher({ activity, cache, own, unix, emit: events.emit, warn });
  const refreshActivity = refresher.refresh;
  const sampling = createSamplingRound({
    config,
    metrics,
    cache,
    tracker,
    refreshActivity,
    record: events.record,
    flush,
    warn,
  });
  const heartbeat = createEgressHeartbeat({
    cluster: config.cluster,
    instance,
    accounts,
    own,
    metrics,
    sampling,
    activity: refresher,
    enqueue: events.enqueue,
    flush,
  }).beat;
  const closeWatcher = createCloseEvents({ config, logger, metrics, tracker, record: events.record, flush });

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (!started) reasons.push('starting');
    if (producer.state === 'failing') reasons.push(`kafka: ${producer.lastError ?? 'send failing'}`);
    else if (outbox.failed) reasons.push('kafka: refused the collector; events are not sent');
    if (started && !closeWatcher.running) reasons.push('ss -E: close-event child not running (restarting)');
    if (started && sampling.stale(Date.now())) {
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
      sampling.markOk();
      loops.push(every(config.activityIntervalMs, refreshActivity));
      loops.push(every(config.intervalMs, sampling.run));
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
      await flush().catch(() => undefined);
      await producer.stop();
      await http.close();
      await activity.close();
    },
  };
}
