import type { Kafka } from 'kafkajs';
import { VigieError } from '@vigie/runtime';

/**
 * Creates the topics that do not exist yet and waits for their leaders (auto-creation under KRaft is racy, so
 * every service creates what it uses explicitly). Existing topics are left as they are.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  { partitions = 3, replicationFactor = 1 }: { partitions?: number; replicationFactor?: number } = {},
): Promise<void> {
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
  } catch (cause) {
    throw new VigieError('VIGIE_KAFKA_TOPICS', `could not create topics ${topics.join(', ')}`, {
      retriable: true,
      cause,
    });
  } finally {
    await admin.disconnect();
  }
}
