import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { collectorHeartbeat, createOwnSessions, type VigieEvent } from '@vigie/contract';
import { createKafka, createReliableProducer, ensureTopics, type ReliableProducer } from '@vigie/kafka';
import type { CompiledPolicy } from '@vigie/policy';
import { buildHttpServer, createMetricsRegistry, type Logger, type Readiness } from '@vigie/runtime';
import { createTxnAggregator } from './aggregate-txn.js';
import type { ReplicationConfig } from './config.js';
import { replicationConnections, scansPersonalDataIn } from './connections.js';
import { createReplicationMetrics } from './metrics.js';
import { createReplicationOutbox } from './replication-outbox.js';
import { createSlotHealth } from './slot-health.js';
import type { HealthSnapshot } from './source-slot-health.js';
import { createStream } from './stream.js';
import { createStreamHealth } from './stream-health.js';
import { createStreamMessages } from './stream-messages.js';

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
  const scansPersonalData = scansPersonalDataIn(config.personalData.scan, environment);
  if (environment === undefined) {
    logger.warn({ cluster: config.cluster }, 'cluster not in the site policy: treated as production (no row scan)');
  }
  const { connection, setup } = replicationConnections(config);

  // Every session this collector opens (stream, slot reads, health, setup), announced in its heartbeats so that
  // the detector knows them for Vigie's own; and the role it connects as, announced from the first heartbeat.
  const own = createOwnSessions();
  const accounts = [config.connection.user];

  const kafka = createKafka(config.kafka, logger);
  const producer =
    injectedProducer ??
    createReliableProducer(config.kafka, {
      logger,
      onStateChange: (state) => metrics.kafkaUp.set(state === 'ready' ? 1 : 0),
    });
  const sink = createReplicationOutbox(producer, {
    config,
    metrics,
    logger,
    onAcknowledged: (lsn) => {
      afterKafkaAck?.();
      stream.source.confirm(lsn);
    },
  });
  const publish = (event: VigieEvent, key?: string, ackLsn?: bigint) => sink.add(event, { key, position: ackLsn });
  const aggregator = createTxnAggregator({
    cluster: config.cluster,
    messagePrefix: config.messages.prefix,
    maxMessages: config.messages.maxPerTxn,
    maxMessageChars: config.messages.maxChars,
    scanPersonalData: scansPersonalData,
  });
  const onMessage = createStreamMessages({
    cluster: config.cluster,
    maxPending: config.batch.maxPending,
    aggregator,
    sink: {
      publish,
      whenAtMost: (n) => sink.whenAtMost(n),
      get pending() {
        return sink.pending;
      },
    },
    metrics,
    logger,
  });
  const stream = createStream({
    config,
    connection,
    setup,
    handler: {
      onMessage,
      onDisconnect: () => aggregator.reset(),
      isSettled: () => !aggregator.open && sink.pending === 0,
    },
    metrics,
    logger,
    own,
  });
  const { source } = stream;
  const health = createSlotHealth({
    config,
    connection,
    policy,
    metrics,
    logger,
    own,
    accounts,
    walsenderPid: stream.walsenderPid,
    health: createStreamHealth(source),
    publish,
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
      await stream.ensure();
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
