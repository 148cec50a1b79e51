import { VigieError } from '@vigie/errors';
import type { KafkaClient } from '@vigie/kafka';
import { DETECTOR_ERRORS } from '../errors.js';

/**
 * The partition count the input topics share. Collectors send a cluster's events to partition murmur2(cluster) mod
 * the topic's count; only when every input topic has the same count does one partition number hold all of a
 * cluster's events, so the detector refuses to start otherwise (as Kafka Streams refuses non-co-partitioned joins).
 */
export async function coPartitionedCount(kafka: KafkaClient, topics: readonly string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
    const counts = new Map(metadata.map((t) => [t.name, t.partitions.length]));
    const distinct = new Set(counts.values());
    const [count] = distinct;
    if (distinct.size !== 1 || count === undefined) {
      throw new VigieError(
        DETECTOR_ERRORS.INPUT_PARTITIONS,
        `input topics must have the same number of partitions: ${[...counts].map(([t, n]) => `${t} has ${n}`).join(', ')}`,
        {
          hint: 'add partitions to the smaller topics (kafka-topics.sh --alter --partitions N) so all are equal; README: "Scaling out"',
        },
      );
    }
    return count;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
