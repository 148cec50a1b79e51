import { hostname } from 'node:os';
import type { Pgoutput } from 'pg-logical-replication';
import type { Registry } from 'prom-client';
import { Outbox } from '@vigie/collector-kit';
import {
  collectorHeartbeat,
  createOwnSessions,
  entityKey,
  type SourceHealth,
  type TableChangeCounts,
  type VigieEvent,
} from '@vigie/contract';
import { createKafka, createReliableProducer, ensureTopics, type ReliableProducer } from '@vigie/kafka';
import type { CompiledPolicy } from '@vigie/policy';
import {
  buildHttpServer,
  createMetricsRegistry,
  describeError,
  rateLimited,
  type Logger,
  type Readiness,
} from '@vigie/runtime';
import { createTxnAggregator } from './aggregate-txn.js';
import type { ReplicationConfig } from './config.js';
import { lsnToNumber } from './lsn.js';
import { createReplicationMetrics } from './metrics.js';
import { ensureReplication, type PgConnection } from './setup-replication.js';
import { createReplicationSource } from './source-replication.js';
import { createSlotHealthPoller, type HealthSnapshot } from './source-slot-health.js';
import { REPLICATION_ERRORS } from './errors.js';

/** Dependencies of {@link createReplicationCollector}. */
export interface ReplicationCollectorDeps {
  logger: Logger;
  policy: CompiledPolicy;
  /** Defaults to a fresh registry labelled `collector-replication`. */
  registry?: Registry;
  /** Start the HTTP server (/metrics, /healthz, /readyz); tests turn it off. Default true. */
  http?: boolean;
  /** Fault injection for crash tests only: called after each Kafka acknowledgement, before the LSN is confirmed. */
  afterKafkaAck?: () => void;
  /** Replaces the Kafka producer (tests: one that stalls, to prove the stream stops being read). */
  producer?: ReliableProducer;
}

/** A built collector: nothing runs until `start()`. */
export interface ReplicationCollector {
  /** Creates the publication/slot/topics if missing, then streams. Resolves once the loops are started. */
  start(): Promise<void>;
  /** Stops reading, waits for Kafka to acknowledge what was read, confirms it to the server, disconnects. */
  stop(): Promise<void>;
  readiness(): Readiness;
  /** Runs one slot/publication poll now and publishes it. */
  pollHealth(): Promise<HealthSnapshot | undefined>;
  readonly registry: Registry;
  /** Last LSN confirmed to the server. */
  readonly confirmedLsn: bigint;
  /** Whether rows are inspected for personal data (policy says pre-production, or forced). */
  readonly scansPersonalData: boolean;
  /** Port the HTTP server listens on, once started (0 before). */
  readonly httpPort: number;
}

/**
 * Builds the replication collector: pgoutput stream → per-transaction summary → Kafka, confirming a commit LSN to
 * the server only once Kafka acknowledged it and everything before; plus the slot/publication health poller.
 */
export function createReplicationCollector(
  config: Readonly<ReplicationConfig>,
  {
    logger,
    policy,
    registry = createMetricsRegistry('collector-replication'),
    http = true,
    afterKafkaAck,
    producer: injectedProducer,
  }: ReplicationCollectorDeps,
): ReplicationCollector {
  const metrics = createReplicationMetrics(registry);
  const environment = policy.environmentOf(config.cluster);
  const scansPersonalData =
    config.personalData.scan === 'on' || (config.personalData.scan === 'auto' && environment === 'pre-production');
  if (environment === undefined) {
    logger.warn({ cluster: config.cluster }, 'cluster not in the site policy: treated as production (no row scan)');
  }

  const connection: PgConnection = {
    host: config.connection.host,
    port: config.connection.port,
    database: config.connection.database,
    user: config.connection.user,
    ...(config.connection.password !== undefined ? { password: config.connection.password } : {}),
  };
  const setup: PgConnection | undefined = config.setup
    ? {
        ...connection,
        user: config.setup.user,
        ...(config.setup.password !== undefined ? { password: config.setup.password } : { password: undefined }),
      }
    : undefined;

  // Every session this collector opens (stream, slot reads, health, setup), announced in its heartbeats so that
  // the detector knows them for Vigie's own; and the role it connects as, announced from the first heartbeat.
  const own = createOwnSessions();
  const accounts = [config.connection.user];
  let walsender: number | undefined;
  let streamHealth: SourceHealth = { state: 'ok', since: new Date().toISOString() };
  const sourceHealth = (): SourceHealth => {
    const state = source.connected ? 'ok' : 'failing';
    const code = source.lastErrorCode;
    const error =
      state === 'ok'
        ? undefined
        : code?.startsWith('VIGIE_')
          ? code
          : `${REPLICATION_ERRORS.STREAM}${code ? ` ${code}` : ''}`;
    if (state !== streamHealth.state || error !== streamHealth.error) {
      streamHealth = { state, since: new Date().toISOString(), ...(error !== undefined && { error }) };
    }
    return streamHealth;
  };

  const kafka = createKafka(config.kafka, logger);
  const producer =
    injectedProducer ??
    createReliableProducer(config.kafka, {
      logger,
      onStateChange: (state) => metrics.kafkaUp.set(state === 'ready' ? 1 : 0),
    });
  // Sends by itself, one batch in flight (the reliable producer is sequential anyway): while it flies, new events
  // queue up and leave together, so batching grows with load without a linger timer. Positions are commit LSNs, in
  // commit order: the acknowledged watermark is the LSN confirmed to the server.
  const sink = new Outbox<bigint>(producer, {
    collector: 'collector-replication',
    cluster: config.cluster,
    topics: config.topics,
    autoSend: true,
    maxBatchEvents: config.batch.maxEvents,
    maxInFlightEvents: config.batch.maxPending,
    metrics,
    onAcknowledged: (lsn) => {
      if (lsn === undefined) return;
      afterKafkaAck?.();
      source.confirm(lsn);
    },
    onInvalid: (event, error) =>
      logger.error({ kind: event.kind, error: describeError(error) }, 'event refused by the contract: dead-lettered'),
    onKafkaRejected: ({ error }, deadLettered) =>
      logger.warn(
        { error: describeError(error) },
        deadLettered ? 'event refused by Kafka: dead-lettered' : 'dead letter refused by Kafka: dropped',
      ),
    onFailed: (error) =>
      logger.error(
        { error: describeError(error) },
        'kafka producer stopped or refused the collector: events unsent, not confirmed',
      ),
  });
  const aggregator = createTxnAggregator({
    cluster: config.cluster,
    messagePrefix: config.messages.prefix,
    maxMessages: config.messages.maxPerTxn,
    maxMessageChars: config.messages.maxChars,
    scanPersonalData: scansPersonalData,
  });
  const changes = {
    insert: metrics.changes.labels({ op: 'insert' }),
    update: metrics.changes.labels({ op: 'update' }),
    delete: metrics.changes.labels({ op: 'delete' }),
    truncate: metrics.changes.labels({ op: 'truncate' }),
  };
  const countChanges = (tables: readonly TableChangeCounts[]) => {
    let insert = 0;
    let update = 0;
    let del = 0;
    let truncate = 0;
    for (const t of tables) {
      insert += t.insert;
      update += t.update;
      del += t.delete;
      truncate += t.truncate;
    }
    if (insert) changes.insert.inc(insert);
    if (update) changes.update.inc(update);
    if (del) changes.delete.inc(del);
    if (truncate) changes.truncate.inc(truncate);
  };
  const logUnknown = rateLimited(60_000, (suppressed: number, tag: string) =>
    logger.warn({ tag, suppressed }, 'unexpected pgoutput message ignored'),
  );

  const publish = (event: VigieEvent, key?: string, ackLsn?: bigint) => sink.add(event, { key, position: ackLsn });

  const onMessage = async (lsn: string, m: Pgoutput.Message): Promise<void> => {
    switch (m.tag) {
      case 'begin':
        aggregator.begin(m.xid, m.commitLsn, m.commitTime as bigint);
        return;
      // Row counters are added once per transaction from its summary (below), not per row.
      case 'insert':
        aggregator.change('insert', m.relation, m.new);
        return;
      case 'update':
        aggregator.change('update', m.relation, m.new);
        return;
      case 'delete':
        aggregator.change('delete', m.relation, null);
        return;
      case 'truncate':
        aggregator.truncate(m.relations);
        return;
      case 'message': {
        const kept = aggregator.message(m.prefix, m.content, m.transactional);
        metrics.messages.inc({ kept: kept ? 'true' : 'false' });
        return;
      }
      case 'commit': {
        const done = aggregator.commit(m.commitEndLsn, lsn);
        metrics.transactions.inc();
        countChanges(done.event.tables);
        if (done.personalDataValues > 0) metrics.personalData.inc(done.personalDataValues);
        publish(done.event, entityKey(config.cluster, `xid/${done.event.xid}`), done.ackLsn);
        // Backpressure: with Kafka slow or down, stop reading (flow control pauses the socket) instead of buffering.
        if (sink.pending > config.batch.maxPending) {
          metrics.backpressure.set(1);
          await sink.whenAtMost(Math.floor(config.batch.maxPending / 2));
          metrics.backpressure.set(0);
        }
        return;
      }
      case 'relation':
      case 'type':
      case 'origin':
        return;
      default:
        logUnknown((m as { tag: string }).tag);
    }
  };

  const source = createReplicationSource({
    connection,
    slot: config.slot,
    publication: config.publication,
    logger,
    maxBackoffMs: config.reconnect.maxBackoffMs,
    handler: {
      onMessage,
      onDisconnect: () => aggregator.reset(),
      isSettled: () => !aggregator.open && sink.pending === 0,
    },
    onConnectionChange: (up) => {
      metrics.connected.set(up ? 1 : 0);
      metrics.sourceUp.set(up ? 1 : 0);
    },
    onReconnect: (reason) => metrics.reconnects.inc({ reason }),
    onConfirmed: (lsn) => metrics.confirmedLsn.set(lsnToNumber(lsn)),
    onReceived: (lsn) => metrics.receivedLsn.set(lsnToNumber(lsn)),
    own,
    // Announced at the next poll (health.intervalMs, 30 s), well within the detector's announcement grace (90 s);
    // an extra poll here would also queue slot and publication events behind a stalled Kafka.
    onStreamStart: (pid) => (walsender = pid),
    // A slot dropped while we run is created again (at the server's current position: the gap is visible in the
    // slot events and the logs). A lost slot is not: see VIGIE_REPLICATION_SLOT_LOST.
    beforeConnect: async () => {
      const made = await ensureReplication({
        connection,
        setup,
        slot: config.slot,
        publication: config.publication,
        logger,
        own,
      });
      if (made.slotCreated || made.publicationCreated) {
        logger.warn(
          { slot: config.slot, publication: config.publication, ...made },
          'slot or publication was dropped while the collector ran and has been created again: changes in between are missing',
        );
      }
    },
  });

  const health = createSlotHealthPoller({
    connection,
    cluster: config.cluster,
    ownSlot: config.slot,
    ownPublication: config.publication,
    isKnownSlot: (n) => policy.isKnownSlot(n),
    isKnownPublication: (n) => policy.isKnownPublication(n),
    intervalMs: config.health.intervalMs,
    maxSlotSeries: config.health.maxSlotSeries,
    metrics,
    logger,
    own,
    accounts,
    walsenderPid: () => (source.connected ? walsender : undefined),
    health: sourceHealth,
    emit: ({ slots, publications, heartbeat }) => {
      for (const s of slots) publish(s, entityKey(config.cluster, `slot/${s.slot}`));
      for (const p of publications) publish(p, entityKey(config.cluster, `publication/${p.database}/${p.publication}`));
      publish(heartbeat);
    },
  });

  const server = http ? buildHttpServer({ registry, readiness: () => readiness() }) : undefined;
  let httpPort = 0;

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (!source.connected) reasons.push(`replication: ${source.lastError ?? 'not connected'}`);
    if (producer.state === 'failing') reasons.push(`kafka: ${producer.lastError ?? 'failing'}`);
    return { ready: reasons.length === 0, reasons };
  };

  return {
    async start() {
      await ensureTopics(kafka, sink.topics, {
        partitions: config.kafka.partitions,
        durability: config.kafka.topics,
        logger,
      });
      // Before the first connection: say which role this collector connects as, so that the detector counts its
      // sessions as Vigie's (announced) or misuse from their first log line, whatever the site policy forgot.
      publish(
        collectorHeartbeat({
          cluster: config.cluster,
          collector: 'collector-replication',
          instance: hostname(),
          at: new Date(),
          accounts,
        }),
      );
      await Promise.race([sink.flush(), new Promise((r) => setTimeout(r, 5000).unref())]);
      await ensureReplication({
        connection,
        setup,
        slot: config.slot,
        publication: config.publication,
        logger,
        own,
      });
      if (server) {
        await server.listen({ host: config.http.host, port: config.http.port });
        const address = server.server.address();
        httpPort = typeof address === 'object' && address ? address.port : 0;
      }
      source.start();
      health.start();
      logger.info(
        {
          slot: config.slot,
          publication: config.publication,
          scansPersonalData,
          environment: environment ?? 'unknown',
        },
        'collector-replication started',
      );
    },
    async stop() {
      await health.stop();
      // Confirm what Kafka has, while the connection is still open; the rest is sent again next time.
      await source.stop(async () => {
        await Promise.race([sink.flush(), new Promise((r) => setTimeout(r, 5000).unref())]);
      });
      await producer.stop();
      await server?.close();
    },
    readiness,
    pollHealth: () => health.pollOnce(),
    registry,
    get confirmedLsn() {
      return source.confirmedLsn;
    },
    scansPersonalData,
    get httpPort() {
      return httpPort;
    },
  };
}
