import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { createOwnSessions, EVENT_STREAMS, Severity, type Alert } from '@vigie/contract';
import { createKafka, createReliableProducer, ensureTopics, partitionForKey, type KafkaClient } from '@vigie/kafka';
import type { ReliableProducer } from '@vigie/kafka';
import { policyWarnings, type CompiledPolicy } from '@vigie/policy';
import { VigieError } from '@vigie/errors';
import {
  createLogger,
  ConfigError,
  createMetricsRegistry,
  describeError,
  type Logger,
  type Readiness,
} from '@vigie/runtime';
import { buildApiServer } from './api/server.js';
import type { DetectorConfig } from './config.js';
import { createEngine } from './engine/index.js';
import { loadRules } from './rules/load.js';
import { createPrivilegedRoles } from './privileged-roles.js';
import { autoResponder } from './respond/auto-response.js';
import { createResponder, type Responder } from './respond/responder.js';
import type { DetectorEngine, PrivilegedRoles, RoleHistory } from './engine/types.js';
import { createRoleHistory } from './role-history.js';

import { createDetectorMetrics, type DetectorMetrics, type EventSource } from './metrics.js';
import { createPeriodic } from './periodic.js';
import { watchCatalog } from './catalog-watch.js';
import { readinessOf } from './readiness.js';
import { trackPoolSessions } from './own-sessions.js';
import { createAlertmanagerSink, type AlertmanagerSink } from './sinks/alertmanager/alertmanager.js';
import { createBatchHandler, type AlertListener, type BatchHandler, type OpenedPartition } from './batch-handler.js';
import { coPartitionedCount } from './source/co-partitioning.js';
import { rebuildPartition, type RebuildResult } from './source/rebuild.js';
import { createEventConsumer, type EventConsumer } from './source/consumer.js';
import { createLagProbe, type LagProbe } from './source/lag.js';
import { publishAlerts } from './sinks/kafka/messages.js';
import { createAlertStore, type AlertStore } from './sinks/store/alert-store.js';
import { createTimelineRecorder } from './sinks/store/timeline.js';
import { resolveUsers } from './web/users.js';
import { DETECTOR_ERRORS } from './errors.js';

/**
 * What the detector needs besides its config: the site policy (the caller loads it, `loadSitePolicy`), and what has
 * a default. Tests and `vigie start` inject some.
 */
export interface DetectorDeps {
  logger?: Logger;
  registry?: Registry;
  /** The compiled site policy. Required: a detector on a policy nobody chose would watch the wrong things. */
  policy: CompiledPolicy;
  /** Privileged roles (default: the policy's `roles.privileged` list only). */
  privileged?: PrivilegedRoles;
  /**
   * Builds a rule engine (default: the shipped rules plus `engine.rulesFile`): one per partition this instance owns,
   * and one at construction to check the rules. `owns(cluster)` says whether a cluster's events come to it.
   */
  createEngine?: (args: EngineArgs) => DetectorEngine;
  /** Called when Alertmanager accepted a new alert state (benchmarks measure event-to-alert latency with it). */
  onAlertmanagerDelivered?: (alert: Alert, deliveredAtMs: number) => void;
}

/** A running detector, as `main.ts`, `vigie start` and the tests drive it. */
export interface Detector {
  /** Migrates the store, restores firing alerts, listens, joins the consumer group. Throws VigieError. */
  start(): Promise<void>;
  /** Leaves the group after the current batch, delivers what it can to Alertmanager, closes everything. */
  stop(): Promise<void>;
  /** Every alert state the detector delivered (after Kafka and the store have it); returns an unsubscribe. */
  onAlert(listener: AlertListener): () => void;
  /** Base URL of the API and /metrics once started (`http://127.0.0.1:18080`). */
  readonly url: string;
  readonly port: number;
  readiness(): Readiness;
  /** The input partitions this instance owns now (each with its own engine), in order. */
  partitions(): number[];
  /** Waits until Alertmanager has every queued alert state (tests, shutdown). */
  flushAlertmanager(timeoutMs?: number): Promise<boolean>;
  readonly logger: Logger;
}

/** Alerts resolved this recently are pushed to Alertmanager again at startup (it may have missed them). */
const RESOLVED_REPUSH_MS = 15 * 60_000;
const RETENTION_EVERY_MS = 60 * 60_000;

/** What an engine is built from. */
export interface EngineArgs {
  config: DetectorConfig;
  policy: CompiledPolicy;
  privileged: PrivilegedRoles;
  onPrivilegesChanged?: (cluster: string) => void;
  roleHistory: RoleHistory;
  /** Whether this engine's partition is the one a cluster's events are sent to. */
  owns: (cluster: string) => boolean;
}

/** The shipped rules plus the site's rule file, compiled (throws ConfigError listing every problem). */
function defaultEngine(args: EngineArgs) {
  const { config, policy, privileged, onPrivilegesChanged, roleHistory, owns } = args;
  return createEngine({
    policy,
    privileged,
    roleHistory,
    ...(onPrivilegesChanged !== undefined && { onPrivilegesChanged }),
    rules: loadRules({ siteFile: config.engine.rulesFile }),
    maxSessions: config.engine.maxSessions,
    idleSessionMs: config.engine.idleSessionMs,
    // A collector's silence is told by the engine of the partition its heartbeats go to (its cluster's).
    expectedCollectors: config.collectors.expected
      .map((e) => ({ ...e, cluster: e.cluster ?? config.cluster }))
      .filter((e) => owns(e.cluster)),
    revisions: config.engine.revisions,
  });
}

/** An automatic response keyed on a rule that does not exist would never run: refused like any invalid setting. */
function checkResponseRules(policy: CompiledPolicy, engine: DetectorEngine): void {
  const autoRules = Object.keys(policy.policy.response.rules);
  if (autoRules.length === 0 || engine.ruleIds === undefined) return;
  const known = new Set(engine.ruleIds);
  const unknown = autoRules.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ConfigError(
      'policy',
      unknown.map((id) => ({
        path: `response.rules.${id}`,
        expected: `the id of a loaded rule (${[...known].join(', ')})`,
        found: id,
      })),
    );
  }
}

/** The Alertmanager sink as the config says, its deliveries measured (event-to-alert latency). */
function alertmanagerSinkOf(
  config: DetectorConfig,
  apiBaseUrl: string,
  {
    logger,
    metrics,
    onDelivered,
  }: { logger: Logger; metrics: DetectorMetrics; onDelivered?: DetectorDeps['onAlertmanagerDelivered'] },
): AlertmanagerSink {
  return createAlertmanagerSink({
    url: config.alertmanager.url,
    links: { apiBaseUrl, runbookBaseUrl: config.alertmanager.runbookBaseUrl },
    logger,
    resendIntervalMs: config.alertmanager.resendIntervalMs,
    timeoutMs: config.alertmanager.timeoutMs,
    maxQueue: config.alertmanager.maxQueue,
    onPushFailure: () => metrics.pushFailures.inc(),
    onDropped: () => metrics.pushDropped.inc(),
    onDelivered: (alert: Alert, at: number) => {
      metrics.eventToAlert.observe(Math.max(0, (at - Date.parse(alert.lastSeen)) / 1000));
      onDelivered?.(alert, at);
    },
  });
}

/**
 * The evidence must not be deletable through the process that serves the API: a runtime role that can is refused,
 * outside the local stack (where one role for both is allowed, with a warning).
 */
async function checkStoreRole(store: AlertStore, config: DetectorConfig, logger: Logger): Promise<void> {
  const excess = await store.runtimePrivilegeProblems();
  if (excess.length > 0 && config.profile !== 'local') {
    throw new ConfigError('store runtime role', [
      {
        path: 'store.connectionString',
        expected:
          'a role limited to SELECT, INSERT, UPDATE on the store tables and DELETE on session_events (README: "The alert store"); migrations go through store.migrationConnectionString',
        found: `a role that ${excess.join('; ')}`,
      },
    ]);
  }
  if (excess.length > 0) {
    logger.warn({ excess }, 'store: the runtime role can alter or delete evidence (allowed with profile: local)');
  }
}

/** The HTTP server: the API (answered from the store only), the evidence pages, /metrics and the health checks. */
function apiServerOf(
  config: DetectorConfig,
  o: {
    registry: Registry;
    logger: Logger;
    store: AlertStore;
    readiness: () => Readiness;
    baseUrl: () => string;
    responder: Responder | undefined;
  },
) {
  const { logger, responder } = o;
  return buildApiServer({
    registry: o.registry,
    token: config.api.token,
    users: resolveUsers(config.api.users),
    web: {
      sessionIdleMs: config.api.sessionIdleMs,
      sessionMaxMs: config.api.sessionMaxMs,
      // Behind a TLS front (publicUrl https://…) the cookies are Secure; the detector itself speaks plain HTTP.
      secureCookies: config.http.publicUrl?.startsWith('https:') ?? false,
      runbookUrl: (rule) => `${config.alertmanager.runbookBaseUrl}${rule}`,
      onSignIn: (ok, user) => {
        if (ok) logger.info({ user }, 'evidence pages: signed in');
        else logger.warn('evidence pages: sign-in refused (wrong token)');
      },
    },
    readiness: o.readiness,
    logger,
    store: o.store,
    baseUrl: o.baseUrl,
    onAck: (id, by) => logger.info({ alertId: id, by }, 'alert acknowledged'),
    respond: responder && ((alert, request) => responder.respond(alert, request)),
  });
}

/**
 * Opens a partition the group gave this instance (at start or after a rebalance): a new engine that knows Vigie's
 * accounts as its components last announced them, and continues the incidents the store says are firing for the
 * clusters whose events go to this partition (same ids, next revision); Alertmanager gets those and the recently
 * resolved ones again, in case their previous owner died before pushing. Other partitions' alerts are not touched:
 * their owner continues them.
 */
async function openPartition(o: {
  partition: number;
  engine: DetectorEngine;
  owns: (cluster: string) => boolean;
  store: AlertStore;
  alertmanager: AlertmanagerSink | undefined;
  logger: Logger;
  rebuild: (engine: DetectorEngine) => Promise<RebuildResult>;
}): Promise<OpenedPartition> {
  const { partition, engine, owns, store, alertmanager, logger } = o;
  const started = Date.now();
  // The rules' state first (replayed from the input), then the store's incidents it did not rebuild (older than the
  // window): their revisions continue from what the store last told.
  const rebuilt = await o.rebuild(engine);
  // A day back: the engine's own retention of announced accounts.
  for (const a of await store.loadVigieAccounts(new Date(Date.now() - 24 * 60 * 60_000))) {
    if (owns(a.cluster)) engine.announceAccounts?.(a.cluster, [a.role], Date.parse(a.ts));
  }
  const restored = (await store.loadFiring()).filter((a) => owns(a.cluster));
  const resolved = (await store.loadResolvedSince(new Date(Date.now() - RESOLVED_REPUSH_MS))).filter((a) =>
    owns(a.cluster),
  );
  alertmanager?.enqueue([...restored, ...resolved], { fresh: false });
  logger.info(
    { partition, firing: restored.length, replayed: rebuilt.events, replayMs: rebuilt.ms, ms: Date.now() - started },
    'partition opened: state replayed from its input, firing alerts restored from the store',
  );
  return { engine, restored, replayedSinceMs: rebuilt.sinceMs };
}

/**
 * Builds the detector from its config: consumer group → engine → sinks (Kafka alerts, PostgreSQL store,
 * Alertmanager) → API and metrics. No side effect until `start()`.
 */
export function createDetector(config: DetectorConfig, deps: DetectorDeps): Detector {
  const logger = deps.logger ?? createLogger('detector', { level: config.log.level });
  const registry = deps.registry ?? createMetricsRegistry('detector');
  const { policy } = deps;
  const catalogRoles = createPrivilegedRoles({ policy });
  const privileged: PrivilegedRoles = deps.privileged ?? catalogRoles;
  // Set once the catalog connection exists (start): a GRANT or CREATE ROLE … SUPERUSER re-reads the catalog at once.
  let refreshPrivileged: (() => void) | undefined;
  // Last activity and catalog listings of the roles, from the store: what dormant-account detection compares with.
  const roleHistory = createRoleHistory();
  // Partitions of the input topics (the same for each, checked at start): a cluster's events go to partition
  // murmur2(cluster) mod this, and that partition's engine owns the cluster's state.
  let partitionCount = 0;
  const partitionOf = (cluster: string) => partitionForKey(cluster, partitionCount);
  const makeEngine = (owns: (cluster: string) => boolean) =>
    (deps.createEngine ?? defaultEngine)({
      config,
      policy,
      privileged,
      roleHistory,
      onPrivilegesChanged: (cluster) => {
        if (cluster === config.cluster) refreshPrivileged?.();
      },
      owns,
    });
  // Built once now to check the rules and the policy's responses against them (a configuration error stops here).
  const rulesProbe = makeEngine(() => true);
  checkResponseRules(policy, rulesProbe);
  // The detector's own database sessions (store, catalog) are Vigie's like the collectors': announced to every
  // engine directly, the moment each connects, and again at every tick while held.
  const ownSessions = createOwnSessions();
  const announceOwn = () =>
    handler.forEachEngine((engine) => engine.announceOwn?.(config.cluster, ownSessions.list(), Date.now()));
  const store: AlertStore = createAlertStore({
    connectionString: config.store.connectionString,
    migrationConnectionString: config.store.migrationConnectionString,
    schema: config.store.schema,
    observePool: (pool) => trackPoolSessions(pool, ownSessions, { logger, onChange: announceOwn }),
  });
  const timeline = createTimelineRecorder({
    preAlertEvents: config.store.timelinePreAlertEvents,
    maxEventsPerSession: config.store.timelineMaxEventsPerSession,
    maxSessions: config.engine.maxSessions,
  });
  // Every stream of the contract, by its configured topic.
  const sources = new Map<string, EventSource>(EVENT_STREAMS.map((s) => [config.topics[s], s]));

  let alertmanager: AlertmanagerSink | undefined;
  let producer: ReliableProducer | undefined;
  let source: EventConsumer | undefined;
  let stopping = false;
  let storeError: string | undefined;
  let catalog: pg.Pool | undefined;
  let lag: LagProbe | undefined;
  let kafka: KafkaClient | undefined;
  const periodic = createPeriodic(logger);
  const every = periodic.every;
  let url = '';
  let port = 0;

  const consumerLag = new Map<EventSource, number>();
  const metrics = createDetectorMetrics(registry, {
    sessionsTracked: () => handler.sessionsTracked,
    partitionsOwned: () => handler.owned().length,
    activeAlerts: () => handler.activeByRule(),
    alertmanagerQueue: () => alertmanager?.queued ?? 0,
    consumerLag: () => consumerLag,
  });

  // Every rule's counter exists from the start at 0: `increase()` then sees a rule's first alert, and a dashboard
  // shows 0 rather than no data for a rule that has not fired.
  for (const rule of rulesProbe.ruleIds ?? [])
    for (const severity of Severity.options) metrics.alertsTotal.labels(rule, severity).inc(0);

  const handler: BatchHandler = createBatchHandler({
    openPartition: (partition) => {
      const owns = (cluster: string) => partitionOf(cluster) === partition;
      const engine = makeEngine(owns);
      engine.announceOwn?.(config.cluster, ownSessions.list(), Date.now());
      return openPartition({
        partition,
        engine,
        owns,
        store,
        alertmanager,
        logger,
        rebuild: (e) =>
          kafka === undefined
            ? Promise.resolve({ events: 0, ms: 0, sinceMs: undefined })
            : rebuildPartition(e, {
                kafka,
                groupId: config.kafka.groupId,
                topics: [...sources.keys()],
                partition,
                windowMs: config.engine.rebuildWindowMs,
                maxEvents: config.engine.rebuildMaxEvents,
                tickEveryMs: config.engine.tickIntervalMs,
                cluster: config.cluster,
                logger,
              }),
      });
    },
    // Their new owner continues them: this instance stops re-sending them to Alertmanager (it would re-fire one
    // the new owner resolved).
    onReleased: (partition, ids) => {
      alertmanager?.release(ids);
      logger.info({ partition, alerts: ids.length }, 'partition released to another instance');
    },
    policy,
    metrics,
    timeline,
    logger,
    cluster: config.cluster,
    sources,
    isStopping: () => stopping,
    sinks: {
      publish: async (alerts, deadLetters) => {
        if (!producer) throw new VigieError(DETECTOR_ERRORS.NOT_STARTED, 'producer not started');
        await publishAlerts(producer, alerts, deadLetters, {
          topics: config.topics,
          cluster: config.cluster,
          onRejected: ({ error }) => {
            metrics.rejected.labels('kafka_rejected').inc();
            logger.warn({ error: describeError(error) }, 'message refused by Kafka: dead-lettered');
          },
        });
      },
      store,
      notify: (alerts, options) => alertmanager?.enqueue(alerts, options),
    },
  });

  // The API answers from the store only; until start() nothing listens. Token files are read now: a missing one
  // is a configuration error (exit 2), not a refused sign-in later.
  // Active responses: only with a responder connection. Each action lands in the store's trail and, as a revision of
  // the alert, in Kafka, the store and Alertmanager.
  const responder: Responder | undefined =
    config.responder.connectionString === ''
      ? undefined
      : createResponder({
          connectionString: config.responder.connectionString,
          cluster: config.cluster,
          policy,
          store,
          logger,
          retryMs: config.responder.retryMs,
          observePool: (pool) => trackPoolSessions(pool, ownSessions, { logger, onChange: announceOwn }),
          annotate: async (alertId, actions) => {
            await handler.annotate(
              alertId,
              (a) => {
                a.response = [...(a.response ?? []), ...actions];
              },
              async () => (await store.getAlert(alertId))?.alert,
            );
          },
        });
  // Automatic responses, per rule, as the policy says: once per alert, when it first fires.
  const auto = responder && autoResponder(policy, responder, logger);
  if (auto !== undefined) handler.onAlert(auto);

  const http = apiServerOf(config, {
    registry,
    logger,
    store,
    readiness: () => readiness(),
    baseUrl: () => url,
    responder,
  });

  const readiness = () => readinessOf({ consuming: source?.consuming ?? false, producer, storeError });

  return {
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    logger,
    readiness,
    partitions: () => handler.owned(),
    onAlert: (listener) => handler.onAlert(listener),
    flushAlertmanager: (timeoutMs) => alertmanager?.flush(timeoutMs) ?? Promise.resolve(true),

    async start() {
      for (const warning of policyWarnings(policy.policy, Date.now())) logger.warn({ warning }, 'site policy');
      const applied = await store.migrate();
      if (applied.length > 0) logger.info({ applied, schema: config.store.schema }, 'store migrations applied');
      await checkStoreRole(store, config, logger);

      await http.listen({ host: config.http.host, port: config.http.port });
      port = (http.server.address() as AddressInfo).port;
      url = config.http.publicUrl ?? `http://${config.http.host}:${port}`;

      if (config.alertmanager.url !== '') {
        alertmanager = alertmanagerSinkOf(config, url, {
          logger,
          metrics,
          ...(deps.onAlertmanagerDelivered !== undefined && { onDelivered: deps.onAlertmanagerDelivered }),
        });
        alertmanager.start();
      }

      roleHistory.load(await store.loadRoleHistory());
      // Locks survive a restart: overdue ones get LOGIN back now, the others at their expiry.
      await responder?.start();

      // Before consuming: the catalog connection is one of Vigie's own sessions, announced as soon as it exists.
      if (!deps.privileged && config.privileged.connectionString !== '') {
        const watch = await watchCatalog(config, {
          roles: catalogRoles,
          store,
          roleHistory,
          logger,
          observePool: (pool) => trackPoolSessions(pool, ownSessions, { logger, onChange: announceOwn }),
          every,
        });
        catalog = watch.pool;
        refreshPrivileged = watch.refreshSoon;
      }

      kafka = createKafka(config.kafka, logger);
      const inputs = [...sources.keys()];
      await ensureTopics(kafka, [...inputs, config.topics.alerts, config.topics.deadletter], {
        partitions: config.kafka.partitions,
        durability: config.kafka.topics,
        logger,
      });
      partitionCount = await coPartitionedCount(kafka, inputs);
      producer = createReliableProducer(config.kafka, { logger });
      source = createEventConsumer(kafka, {
        groupId: config.kafka.groupId,
        topics: inputs,
        logger,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        onAssigned: (partitions) => {
          const asked = Date.now();
          void handler.assign(partitions).then(
            () =>
              logger.info(
                { partitions: handler.owned(), openedMs: Date.now() - asked },
                'consumer group assignment applied',
              ),
            (error: unknown) => logger.error({ error: describeError(error) }, 'partition assignment failed'),
          );
        },
        handleBatch: (topic, partition, messages) => handler.handleBatch(topic, partition, messages),
      });
      await source.start();

      every(config.engine.tickIntervalMs, async () => {
        if (stopping) return;
        announceOwn();
        await handler.tick(Date.now());
        timeline.evictIdle(Date.now() - config.engine.idleSessionMs);
        try {
          await store.ping();
          storeError = undefined;
        } catch (error) {
          storeError = describeError(error);
        }
      });
      const probe = createLagProbe(kafka, config.kafka.groupId, sources);
      lag = probe;
      every(config.kafka.lagIntervalMs, () => probe.measure(consumerLag));
      every(RETENTION_EVERY_MS, async () => {
        const days = config.store.timelineRetentionDays;
        const removed = await store.pruneTimeline(new Date(Date.now() - days * 86_400_000));
        if (removed > 0) logger.info({ removed }, 'old timeline events pruned');
      });
      logger.info({ url, groupId: config.kafka.groupId, topics: inputs }, 'detector started');
    },

    async stop() {
      stopping = true;
      periodic.clear();
      await source?.stop().catch((error: unknown) => logger.warn({ error: describeError(error) }, 'consumer stop'));
      // Changes held back between revisions go out as a last revision (the store has them as pending anyway).
      if (producer) {
        await handler
          .flush()
          .catch((error: unknown) =>
            logger.warn({ error: describeError(error) }, 'final alert revisions not published'),
          );
      }
      await alertmanager?.stop();
      await producer?.stop();
      await lag?.close();
      await http.close();
      await responder?.stop();
      await store.close();
      await catalog?.end();
    },
  };
}
