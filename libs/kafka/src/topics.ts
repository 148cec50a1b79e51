import type { Kafka } from 'kafkajs';
import { VigieError, backoffMs } from '@vigie/runtime';

/** Whether kafkajs says retrying can help (leader elections and metadata propagation on a broker that just started). */
function isRetriable(error: unknown): boolean {
  return (error as { retriable?: unknown } | undefined)?.retriable === true;
}

/**
 * Creates the topics that do not exist yet and waits for their leaders (auto-creation under KRaft is racy, so
 * every service creates what it uses explicitly). Existing topics are left as they are. Retriable errors — a broker
 * that just started answers "This server does not host this topic-partition" while leaders are elected — are
 * retried with backoff for up to `retryForMs`; then, or on any other error, VIGIE_KAFKA_TOPICS.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  {
    partitions = 3,
    replicationFactor = 1,
    retryForMs = 30_000,
  }: { partitions?: number; replicationFactor?: number; retryForMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + retryForMs;
  for (let attempt = 0; ; attempt += 1) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
        });
      }
      return;
    } catch (cause) {
      if (!isRetriable(cause) || Date.now() >= deadline) {
        throw new VigieError('VIGIE_KAFKA_TOPICS', `could not create topics ${topics.join(', ')}`, {
          retriable: true,
          cause,
        });
      }
    } finally {
      await admin.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, { baseMs: 200, maxMs: 2000 })));
  }
}
