import kafkajs from 'kafkajs';
import { VigieError } from '@vigie/errors';
import { backoffMs, type Logger } from '@vigie/runtime';
import { classifyKafkajsError, whoIs, type KafkaClient } from './client.js';
import { KAFKA_ERRORS } from './errors.js';

/** Kafka errors that mean "wait": a leader election or metadata still propagating after a broker came or went. */
const TRANSIENT_TYPES = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'REPLICA_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'REQUEST_TIMED_OUT',
  'NOT_CONTROLLER',
]);

/**
 * Whether retrying can help (leader elections and metadata propagation on a broker that just started or left).
 * kafkajs wraps the broker's error once its own retries are spent (`KafkaJSNumberOfRetriesExceeded`,
 * `KafkaJSNonRetriableError`, retriable: false): the election under it is still worth waiting for, so the whole
 * cause chain is read.
 */
export function isRetriableTopicError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 6; depth += 1) {
    const { retriable, type } = e as { retriable?: unknown; type?: unknown };
    if (retriable === true || (typeof type === 'string' && TRANSIENT_TYPES.has(type))) return true;
    e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Replication of the topics a service creates, and what it accepts of those it finds (`kafka.topics`). */
export interface TopicDurability {
  replicationFactor: number;
  minInsyncReplicas: number;
  /** Start even when a topic cannot survive the loss of one broker (logged as a warning). */
  allowUnsafe: boolean;
}

/** What one topic's replication is, as the cluster reports it. */
export interface TopicReplication {
  topic: string;
  /** The smallest replica count of any of its partitions. */
  replicationFactor: number;
  minInsyncReplicas: number;
}

/**
 * Whether acknowledged events survive the loss of any one broker and writes go on after it: acks=all waits for
 * `min.insync.replicas` copies, so at least 2 are needed for an acknowledged event to outlive one broker, and one
 * replica more than that keeps the partition writable while a broker is down.
 */
export function survivesBrokerLoss({ replicationFactor, minInsyncReplicas }: TopicReplication): boolean {
  return minInsyncReplicas >= 2 && replicationFactor >= minInsyncReplicas + 1;
}

/** Options of {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  partitions?: number;
  /**
   * Replication of created topics and the check of every listed topic (created or found). Absent (tests, tools):
   * topics are created with one replica and not checked.
   */
  durability?: TopicDurability | undefined;
  /** Where the warning about topics that cannot survive a broker loss goes, when they are allowed. */
  logger?: Logger | undefined;
  retryForMs?: number;
}

/**
 * Creates the topics that do not exist yet and waits for their leaders (auto-creation under KRaft is racy, so
 * every service creates what it uses explicitly), with `durability`'s replication factor and `min.insync.replicas`.
 * Existing topics are left as they are, but with `durability` every topic is then checked: one that cannot survive
 * the loss of a broker stops the service (VIGIE_KAFKA_TOPICS_UNSAFE) unless `allowUnsafe`, in which case a warning
 * says so. Retriable errors — a broker that just started answers "This server does not host this topic-partition"
 * while leaders are elected — are retried with backoff for up to `retryForMs`; then, or on any other error,
 * VIGIE_KAFKA_TOPICS, or the precise code when authentication, TLS or an ACL is the cause.
 */
export async function ensureTopics(
  kafka: KafkaClient,
  topics: readonly string[],
  { partitions = 3, durability, logger, retryForMs = 30_000 }: EnsureTopicsOptions = {},
): Promise<TopicReplication[]> {
  const deadline = Date.now() + retryForMs;
  let found: TopicReplication[] = [];
  for (let attempt = 0; ; attempt += 1) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      // Each topic on its own, not listTopics(): listing every topic of the cluster fails while any partition of
      // any topic has no leader (another application's one-replica topic on a dead broker would stop Vigie).
      const missing: string[] = [];
      for (const topic of topics) if (!(await exists(admin, topic))) missing.push(topic);
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: partitions,
            replicationFactor: durability?.replicationFactor ?? 1,
            configEntries: durability
              ? [{ name: 'min.insync.replicas', value: String(durability.minInsyncReplicas) }]
              : [],
          })),
        });
      }
      if (durability) found = await describeReplication(admin, topics);
      break;
    } catch (cause) {
      const precise = classifyKafkajsError(cause, whoIs(kafka));
      if (precise) throw precise;
      if (!isRetriableTopicError(cause) || Date.now() >= deadline) {
        throw new VigieError(KAFKA_ERRORS.TOPICS, `could not create topics ${topics.join(', ')}`, {
          retriable: true,
          cause,
        });
      }
    } finally {
      await admin.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, { baseMs: 200, maxMs: 2000 })));
  }
  const unsafe = found.filter((t) => !survivesBrokerLoss(t));
  if (durability && unsafe.length > 0) {
    const list = unsafe
      .map((t) => `${t.topic} (replication factor ${t.replicationFactor}, min.insync.replicas ${t.minInsyncReplicas})`)
      .join(', ');
    if (!durability.allowUnsafe) {
      throw new VigieError(
        KAFKA_ERRORS.TOPICS_UNSAFE,
        `topics that cannot survive the loss of one broker: ${list}. Acknowledged events need min.insync.replicas ` +
          '>= 2 and a replication factor above it (3 and 2): raise them on the cluster (kafka-reassign-partitions, ' +
          'kafka-configs), or set kafka.topics.allowUnsafe: true for a one-broker test cluster',
        { retriable: false, context: { topics: unsafe } },
      );
    }
    logger?.warn(
      { topics: unsafe },
      `kafka topics cannot survive the loss of one broker (${list}): accepted by kafka.topics.allowUnsafe (one-broker local stack or tests only)`,
    );
  }
  return found;
}

type Admin = ReturnType<KafkaClient['admin']>;

// kafkajs is CommonJS: Node's ESM loader finds this export only through the default export.
const { ConfigResourceTypes } = kafkajs;

/** Whether `topic` exists (its metadata says UNKNOWN_TOPIC_OR_PARTITION when not); other errors are thrown. */
async function exists(admin: Admin, topic: string): Promise<boolean> {
  try {
    await admin.fetchTopicMetadata({ topics: [topic] });
    return true;
  } catch (error) {
    for (let e: unknown = error, depth = 0; e && depth < 5; depth += 1) {
      const type = (e as { type?: unknown }).type;
      if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return false;
      // A partition without a leader (a broker down): the topic is there.
      if (type === 'LEADER_NOT_AVAILABLE' || type === 'REPLICA_NOT_AVAILABLE') return true;
      e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
    }
    throw error;
  }
}

/** Replica counts from metadata, `min.insync.replicas` from the topic configs (the broker default when unset). */
async function describeReplication(admin: Admin, topics: readonly string[]): Promise<TopicReplication[]> {
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: ['min.insync.replicas'],
    })),
  });
  const minIsr = new Map<string, number>();
  for (const r of configs.resources) {
    const entry = r.configEntries.find((c) => c.configName === 'min.insync.replicas');
    if (entry) minIsr.set(r.resourceName, Number(entry.configValue));
  }
  return metadata.map((t) => ({
    topic: t.name,
    replicationFactor: Math.min(...t.partitions.map((p) => p.replicas.length)),
    minInsyncReplicas: minIsr.get(t.name) ?? 1,
  }));
}
