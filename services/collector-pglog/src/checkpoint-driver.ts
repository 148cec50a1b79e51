import { unknownZones } from '@vigie/pglog';
import { describeError, type Logger } from '@vigie/runtime';
import type { Checkpointer } from './checkpoint.js';
import type { CollectorMetrics } from './metrics.js';

export interface CheckpointDriverOptions {
  checkpoint: Checkpointer;
  intervalMs: number;
  metrics: CollectorMetrics;
  logger: Logger;
  /** Sessions the parser remembers. */
  sessions: () => number;
  /** Events in the outbox not acknowledged yet. */
  pending: () => number;
}

/**
 * Saves the checkpoint on a timer (the outbox's acknowledged watermark moves it; nothing else does), with the gauges
 * that go with it: remembered sessions, checkpoint age while events are pending; and warns of unknown time zones.
 */
export interface CheckpointDriver {
  start(): void;
  stop(): void;
}

export function createCheckpointDriver(o: CheckpointDriverOptions): CheckpointDriver {
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    o.metrics.sessions.set(o.sessions());
    o.metrics.checkpointAge.set(o.pending() > 0 ? o.checkpoint.sinceAdvanceMs() / 1000 : 0);
    for (const zone of unknownZones()) o.logger.warn({ zone }, 'log_timezone abbreviation read as UTC');
    o.checkpoint
      .save()
      .catch((error: unknown) =>
        o.logger.error({ error: describeError(error) }, 'checkpoint write failed; will retry'),
      );
  };
  return {
    start() {
      timer = setInterval(tick, o.intervalMs);
    },
    stop: () => clearInterval(timer),
  };
}
