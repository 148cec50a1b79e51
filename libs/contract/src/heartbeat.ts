import { z } from 'zod';
import { envelope } from './common.js';

/** Every collector says it is alive, and how far behind its source it is, at a fixed interval. */
export const CollectorHeartbeatEvent = z.object({
  ...envelope,
  kind: z.literal('collector.heartbeat'),
  collector: z.enum(['collector-pglog', 'collector-replication', 'collector-egress']),
  /** Host or instance name of the collector (not personal data). */
  instance: z.string(),
  /** Bytes of source not yet delivered to Kafka (log bytes, WAL bytes), when known. */
  lagBytes: z.number().int().nonnegative().optional(),
  /** Age of the oldest source record not yet delivered, in seconds. */
  lagSeconds: z.number().nonnegative().optional(),
});
export type CollectorHeartbeatEvent = z.infer<typeof CollectorHeartbeatEvent>;
