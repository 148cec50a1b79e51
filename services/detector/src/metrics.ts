import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ClientClass, EVENT_STREAMS, RejectReason, type EventStream } from '@vigie/contract';

/** Topic family an event came from: the `source` label of `vigie_events_consumed_total`. */
/** The stream an event was consumed from (a `source` label value). */
export type EventSource = EventStream;

/** What the detector reads when Prometheus scrapes (cheap, no I/O). */
export interface DetectorGauges {
  sessionsTracked(): number;
  /** Input partitions this instance owns now (0 before it joined its consumer group). */
  partitionsOwned?(): number;
  /** Firing alerts by rule and severity. */
  activeAlerts(): Iterable<{ rule: string; severity: string; count: number }>;
  alertmanagerQueue(): number;
  /** Messages of each input topic family not yet committed by the consumer group (all partitions). */
  consumerLag?(): ReadonlyMap<EventSource, number>;
}

/**
 * The detector's metrics. Label values come from small fixed sets only: event sources, severities, client
 * classes, reject reasons, rule ids (the shipped and site rules), collector names and cluster names from the
 * policy — never users, addresses, SQL or session ids.
 */
export function createDetectorMetrics(registry: Registry, gauges: DetectorGauges) {
  const eventsConsumed = new Counter({
    name: 'vigie_events_consumed_total',
    help: 'Events decoded and fed to the rule engine, by topic family.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  for (const source of EVENT_STREAMS) eventsConsumed.labels(source).inc(0);

  const alertsTotal = new Counter({
    name: 'vigie_alerts_total',
    help: 'Incidents raised (one per alert id; updates of the same incident are not counted).',
    labelNames: ['rule', 'severity'] as const,
    registers: [registry],
  });

  new Gauge({
    name: 'vigie_alerts_active',
    help: 'Alerts firing now, by rule and severity.',
    labelNames: ['rule', 'severity'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { rule, severity, count } of gauges.activeAlerts()) this.labels(rule, severity).set(count);
    },
  });

  new Gauge({
    name: 'vigie_sessions_tracked',
    help: 'Database sessions the rule engine holds state for.',
    registers: [registry],
    collect() {
      this.set(gauges.sessionsTracked());
    },
  });

  new Gauge({
    name: 'vigie_partitions_owned',
    help: 'Input partitions this detector instance owns (their clusters are its to watch); 0 while not in the group.',
    registers: [registry],
    collect() {
      this.set(gauges.partitionsOwned?.() ?? 0);
    },
  });

  const sessionsEvicted = new Counter({
    name: 'vigie_sessions_evicted_total',
    help: 'Sessions dropped from the engine because they ended, went idle, or the session cap was reached.',
    registers: [registry],
  });

  const egressBytes = new Counter({
    name: 'vigie_egress_bytes_total',
    help: 'Bytes PostgreSQL sent to clients (egress samples), by where the client stands.',
    labelNames: ['client_class'] as const,
    registers: [registry],
  });
  for (const c of ClientClass.options) egressBytes.labels(c).inc(0);

  const eventToAlert = new Histogram({
    name: 'vigie_event_to_alert_seconds',
    help: 'From the time of the event that raised or updated an alert to Alertmanager accepting that state (states the clock produced, e.g. resolved after a silence or a periodic refresh, are not counted).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });

  const heartbeat = new Gauge({
    name: 'vigie_collector_last_heartbeat_timestamp_seconds',
    help: 'Event time of the last heartbeat of each collector, per cluster.',
    labelNames: ['collector', 'cluster'] as const,
    registers: [registry],
  });

  const alertRevisions = new Counter({
    name: 'vigie_alert_revisions_total',
    help: 'Alert states published (Kafka, store, Alertmanager), by rule and why: opened, changed (severity, a new table or object, the acting role), counts (a count reached a power of two), refresh (other changes, every few minutes), ended (the session ended: its final figures), resolved, flush (at stop).',
    labelNames: ['rule', 'reason'] as const,
    registers: [registry],
  });

  const alertUpdatesHeld = new Counter({
    name: 'vigie_alert_updates_held_total',
    help: 'Incident updates kept in memory and in the store without a new revision (the next revision carries them), by rule.',
    labelNames: ['rule'] as const,
    registers: [registry],
  });

  const rejected = new Counter({
    name: 'vigie_records_rejected_total',
    help: 'Messages the detector could not decode (sent to the dead-letter topic), by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const r of RejectReason.options) rejected.labels(r).inc(0);

  const pushFailures = new Counter({
    name: 'vigie_alertmanager_push_failures_total',
    help: 'Failed pushes to Alertmanager (each is retried with backoff).',
    registers: [registry],
  });

  const pushDropped = new Counter({
    name: 'vigie_alertmanager_dropped_total',
    help: 'Alert states dropped from the full Alertmanager queue (firing ones are re-sent at the next resend).',
    registers: [registry],
  });

  new Gauge({
    name: 'vigie_alertmanager_queue_alerts',
    help: 'Alert states waiting to be pushed to Alertmanager.',
    registers: [registry],
    collect() {
      this.set(gauges.alertmanagerQueue());
    },
  });

  new Gauge({
    name: 'vigie_consumer_lag_messages',
    help: "Messages on the detector's input topics not yet processed by its consumer group, by topic family.",
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      for (const [source, lag] of gauges.consumerLag?.() ?? []) this.labels(source).set(lag);
    },
  });

  const storeFailures = new Counter({
    name: 'vigie_store_write_failures_total',
    help: 'Failed writes to the alert store (each is retried; the consumer waits meanwhile).',
    registers: [registry],
  });

  const engineErrors = new Counter({
    name: 'vigie_engine_errors_total',
    help: 'Events the rule engine threw on (skipped; a rule bug, see the service log).',
    registers: [registry],
  });

  const batchSeconds = new Histogram({
    name: 'vigie_detector_batch_seconds',
    help: 'Time to process one consumed batch, effects included.',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });

  return {
    eventsConsumed,
    alertsTotal,
    sessionsEvicted,
    egressBytes,
    eventToAlert,
    heartbeat,
    alertRevisions,
    alertUpdatesHeld,
    rejected,
    pushFailures,
    pushDropped,
    storeFailures,
    engineErrors,
    batchSeconds,
  };
}

/** The detector's metric handles. */
export type DetectorMetrics = ReturnType<typeof createDetectorMetrics>;
