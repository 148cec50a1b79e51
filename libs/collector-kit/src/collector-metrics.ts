import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RejectReason, type CollectorName } from '@vigie/contract';

/** Buckets of the produce latency: from a local broker's milliseconds to a minute of retries. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The metrics every collector exports, each under one name with a `collector` label (`collector-pglog`,
 * `collector-replication`, `collector-egress`): a dashboard or an alert written for one collector reads the others.
 * The outbox keeps the delivery ones up to date; the collector sets `backpressure` and `sourceUp`. Returned bound
 * to the collector's label (prom-client hashes labels on every update otherwise).
 */
export function createCollectorKitMetrics(registry: Registry, collector: CollectorName) {
  const registers = [registry];
  const eventsProduced = new Counter({
    name: 'vigie_collector_events_produced_total',
    help: 'Events acknowledged by Kafka, by kind (dead letters included, as kind deadletter).',
    labelNames: ['collector', 'kind'] as const,
    registers,
  });
  const pendingEvents = new Gauge({
    name: 'vigie_collector_pending_events',
    help: 'Events handed to the outbox and not yet acknowledged by Kafka (queued or in flight).',
    labelNames: ['collector'] as const,
    registers,
  });
  const backpressure = new Gauge({
    name: 'vigie_collector_backpressure',
    help: '1 while the collector stops reading its source because Kafka is slow or unreachable.',
    labelNames: ['collector'] as const,
    registers,
  });
  const kafkaUp = new Gauge({
    name: 'vigie_collector_kafka_up',
    help: '1 while the Kafka producer is ready, 0 while sends are being retried or were refused.',
    labelNames: ['collector'] as const,
    registers,
  });
  const produceLatency = new Histogram({
    name: 'vigie_collector_produce_latency_seconds',
    help: 'Time from handing a batch to the producer to its acknowledgement by Kafka.',
    labelNames: ['collector'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const sourceUp = new Gauge({
    name: 'vigie_collector_source_up',
    help: '1 while the collector reads its source, 0 while it cannot (a log file it may not open, a replication stream down, ss failing): it is blind.',
    labelNames: ['collector'] as const,
    registers,
  });
  const rejected = new Counter({
    name: 'vigie_records_rejected_total',
    help: 'Records and events sent to the dead-letter topic, by reason.',
    labelNames: ['component', 'reason'] as const,
    registers,
  });
  // Every reason starts at 0: a counter born at 1 shows no increase() for its first rejection (dashboards, alerts).
  for (const reason of RejectReason.options) rejected.inc({ component: collector, reason }, 0);
  const labels = { collector };
  const byKind = new Map<string, ReturnType<typeof eventsProduced.labels>>();
  return {
    eventsProduced,
    /** Records and events dead-lettered: `component` is the collector's name (shared with the detector's). */
    rejected,
    /** Adds `n` acknowledged events of `kind` (label sets made once per kind). */
    produced(kind: string, n: number): void {
      let child = byKind.get(kind);
      if (child === undefined) byKind.set(kind, (child = eventsProduced.labels({ collector, kind })));
      child.inc(n);
    },
    /** One more record or event sent to the dead-letter topic for `reason`. */
    reject(reason: RejectReason): void {
      rejected.inc({ component: collector, reason });
    },
    pendingEvents: pendingEvents.labels(labels),
    backpressure: backpressure.labels(labels),
    kafkaUp: kafkaUp.labels(labels),
    produceLatency: produceLatency.labels(labels),
    sourceUp: sourceUp.labels(labels),
  };
}
/** The standard collector metrics, bound to one collector. */
export type CollectorKitMetrics = ReturnType<typeof createCollectorKitMetrics>;
