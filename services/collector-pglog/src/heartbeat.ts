import { collectorHeartbeat, type SourceHealth, type VigieEvent } from '@vigie/contract';
import type { CollectorMetrics } from './metrics.js';

export interface HeartbeatOptions {
  cluster: string;
  instance: string;
  metrics: CollectorMetrics;
  /** Bytes of log not read yet. */
  lagBytes: () => number;
  /** Whether the last read reached the end of the log. */
  atEof: () => boolean;
  /** Timestamp of the last event read. */
  lastEventTs: () => string | undefined;
  health: () => SourceHealth;
  /** Heartbeats join the stream like any event (same window), so they also stop when Kafka is down. */
  offer: (event: VigieEvent) => void;
}

/**
 * One heartbeat: sets the lag gauges and offers the heartbeat event. A timer that keeps beating while the read loop is
 * stuck would tell the detector all is well: the heartbeat carries the loop's health. No identities: this collector
 * reads files and holds no database session.
 */
export function createHeartbeat(o: HeartbeatOptions): () => void {
  return () => {
    const now = new Date();
    const lagBytes = o.lagBytes();
    const lastEventTs = o.lastEventTs();
    const lagSeconds =
      o.atEof() || lastEventTs === undefined ? 0 : Math.max(0, (now.getTime() - Date.parse(lastEventTs)) / 1000);
    o.metrics.lagBytes.set(lagBytes);
    o.metrics.lagSeconds.set(lagSeconds);
    o.offer(
      collectorHeartbeat({
        cluster: o.cluster,
        collector: 'collector-pglog',
        instance: o.instance,
        at: now,
        lagBytes,
        lagSeconds,
        health: o.health(),
      }),
    );
  };
}
