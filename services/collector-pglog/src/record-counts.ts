import type { CollectorMetrics } from './metrics.js';

export type RecordOutcome = 'event' | 'merged' | 'ignored' | 'rejected';

/**
 * Records counted locally and added to the counter once per read (prom-client cost ~0.6 µs per inc, at ~10⁵ records
 * a second).
 */
export interface RecordCounts {
  count(outcome: RecordOutcome): void;
  /** Adds the counts to `recordsRead` and starts again from zero. */
  flush(): void;
}

export function createRecordCounts(metrics: Pick<CollectorMetrics, 'recordsRead'>): RecordCounts {
  const recordsByOutcome = { event: 0, merged: 0, ignored: 0, rejected: 0 };
  return {
    count(outcome) {
      recordsByOutcome[outcome] += 1;
    },
    flush() {
      for (const outcome of ['event', 'merged', 'ignored', 'rejected'] as const) {
        if (recordsByOutcome[outcome] > 0) metrics.recordsRead.inc({ outcome }, recordsByOutcome[outcome]);
        recordsByOutcome[outcome] = 0;
      }
    },
  };
}
