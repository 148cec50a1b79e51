import type { KafkaClient } from '@vigie/kafka';
import type { EventSource } from '../metrics.js';

/** Measures how far the consumer group is behind on each input topic (the `vigie_consumer_lag_messages` gauge). */
export interface LagProbe {
  /** Reads the topics' end offsets and the group's committed ones; sets `lag` per source. */
  measure(lag: Map<EventSource, number>): Promise<void>;
  close(): Promise<void>;
}

/** Creates a {@link LagProbe} over `sources` (topic name → source label) for the consumer group `groupId`. */
export function createLagProbe(
  kafka: KafkaClient,
  groupId: string,
  sources: ReadonlyMap<string, EventSource>,
): LagProbe {
  const admin = kafka.admin();
  return {
    async measure(lag) {
      await admin.connect();
      for (const [topic, source] of sources) {
        const [ends, committed] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
        // A partition the group never committed on counts from its low watermark (all of it is still to read).
        let behind = 0;
        for (const e of ends)
          behind += Math.max(0, Number(e.high) - Math.max(done.get(e.partition) ?? -1, Number(e.low)));
        lag.set(source, behind);
      }
    },
    close: () => admin.disconnect().catch(() => undefined),
  };
}
