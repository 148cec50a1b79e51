/**
 * The instrumentation spec: every metric of every Vigie service, named once (Vector's habit). A dashboard, an alert
 * rule or a README names a metric from this table; each service's unit test (`metric-catalogue.test.ts` next to its
 * `metrics.ts`) builds its metrics and checks with {@link catalogueDiff} that it exports exactly what this table says
 * for it: no metric missing, none extra, same type and labels. Only Vigie's own `vigie_*` metrics are listed (the
 * process and Node.js defaults come from prom-client).
 */
import type { Registry } from 'prom-client';

/** The services that export metrics. */
export type MetricService =
  'collector-pglog' | 'collector-replication' | 'collector-egress' | 'detector' | 'alert-receiver';

/** One metric: its name, Prometheus type, label names, which services export it, and what it means. */
export interface MetricSpec {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** Label names, in the order the code declares them (service-wide default labels such as `service` excluded). */
  labels: readonly string[];
  services: readonly MetricService[];
  /** A service that exports the metric with other labels (a historical difference, kept until the next version). */
  labelsIn?: Partial<Record<MetricService, readonly string[]>>;
  help: string;
}

/** The standard set of `@vigie/collector-kit`: every collector exports it, labelled `collector`. */
const COLLECTORS: readonly MetricService[] = ['collector-pglog', 'collector-replication', 'collector-egress'];
const ALL_BUT_RECEIVER: readonly MetricService[] = [...COLLECTORS, 'detector'];

/** Every metric of every service, once. */
export const METRIC_CATALOGUE: readonly MetricSpec[] = [
  {
    name: 'vigie_collector_events_produced_total',
    type: 'counter',
    labels: ['collector', 'kind'],
    services: COLLECTORS,
    help: 'Events acknowledged by Kafka, by kind (dead letters included, as kind deadletter).',
  },
  {
    name: 'vigie_collector_pending_events',
    type: 'gauge',
    labels: ['collector'],
    services: COLLECTORS,
    help: 'Events handed to the outbox and not yet acknowledged by Kafka (queued or in flight).',
  },
  {
    name: 'vigie_collector_backpressure',
    type: 'gauge',
    labels: ['collector'],
    services: COLLECTORS,
    help: '1 while the collector stops reading its source because Kafka is slow or unreachable.',
  },
  {
    name: 'vigie_collector_kafka_up',
    type: 'gauge',
    labels: ['collector'],
    services: COLLECTORS,
    help: '1 while the Kafka producer is ready, 0 while sends are being retried or were refused.',
  },
  {
    name: 'vigie_collector_produce_latency_seconds',
    type: 'histogram',
    labels: ['collector'],
    services: COLLECTORS,
    help: 'Time from handing a batch to the producer to its acknowledgement by Kafka.',
  },
  {
    name: 'vigie_collector_source_up',
    type: 'gauge',
    labels: ['collector'],
    services: COLLECTORS,
    help: '1 while the collector reads its source, 0 while it cannot (a log file it may not open, a replication stream down, ss failing): it is blind.',
  },
  {
    name: 'vigie_records_rejected_total',
    type: 'counter',
    labels: ['component', 'reason'],
    services: ALL_BUT_RECEIVER,
    labelsIn: { detector: ['reason'] },
    help: 'Records and events sent to the dead-letter topic, by reason (collectors: by component too).',
  },
  {
    name: 'vigie_pglog_records_read_total',
    type: 'counter',
    labels: ['outcome'],
    services: ['collector-pglog'],
    help: 'Log records read, by outcome (event, merged into a statement, ignored, rejected).',
  },
  {
    name: 'vigie_pglog_read_bytes_total',
    type: 'counter',
    labels: [],
    services: ['collector-pglog'],
    help: 'Log bytes read.',
  },
  {
    name: 'vigie_pglog_lag_bytes',
    type: 'gauge',
    labels: [],
    services: ['collector-pglog'],
    help: 'Log bytes written by the server and not read yet.',
  },
  {
    name: 'vigie_pglog_lag_seconds',
    type: 'gauge',
    labels: [],
    services: ['collector-pglog'],
    help: 'Age of the last record read when there is more to read; 0 at the end of the log.',
  },
  {
    name: 'vigie_pglog_checkpoint_age_seconds',
    type: 'gauge',
    labels: [],
    services: ['collector-pglog'],
    help: 'Seconds since the checkpoint last moved forward while there was something to checkpoint.',
  },
  {
    name: 'vigie_pglog_rotations_total',
    type: 'counter',
    labels: [],
    services: ['collector-pglog'],
    help: 'Log file switches.',
  },
  {
    name: 'vigie_pglog_truncations_total',
    type: 'counter',
    labels: [],
    services: ['collector-pglog'],
    help: 'Log files found shorter than the read position (restarted at 0).',
  },
  {
    name: 'vigie_pglog_log_gaps_total',
    type: 'counter',
    labels: ['reason'],
    services: ['collector-pglog'],
    help: 'Log files found shrunk or gone before they were read to their end (log.gap events), by reason.',
  },
  {
    name: 'vigie_pglog_settings_checks_total',
    type: 'counter',
    labels: ['outcome'],
    services: ['collector-pglog'],
    help: 'Checks of the server audit settings, by outcome (ok, drift, failed).',
  },
  {
    name: 'vigie_pglog_settings_drift',
    type: 'gauge',
    labels: [],
    services: ['collector-pglog'],
    help: 'Settings found drifted at the last check (0: the server audits what Vigie needs).',
  },
  {
    name: 'vigie_pglog_invalid_utf8_bytes_total',
    type: 'counter',
    labels: [],
    services: ['collector-pglog'],
    help: 'Log bytes that were not valid UTF-8 (read as U+FFFD): a server writing another encoding, or corruption.',
  },
  {
    name: 'vigie_pglog_symlinks_refused_total',
    type: 'counter',
    labels: [],
    services: ['collector-pglog'],
    help: 'Symbolic links found in the log directory and refused (never read as logs).',
  },
  {
    name: 'vigie_pglog_sessions',
    type: 'gauge',
    labels: [],
    services: ['collector-pglog'],
    help: 'Sessions remembered.',
  },
  {
    name: 'vigie_pglog_source_failures_total',
    type: 'counter',
    labels: [],
    services: ['collector-pglog'],
    help: 'Attempts to open or read a log file that failed (each is retried with backoff).',
  },
  {
    name: 'vigie_pglog_session_evictions_total',
    type: 'counter',
    labels: [],
    services: ['collector-pglog'],
    help: 'Sessions forgotten because the session table was full.',
  },
  {
    name: 'vigie_replication_transactions_total',
    type: 'counter',
    labels: [],
    services: ['collector-replication'],
    help: 'Transactions received from the replication stream.',
  },
  {
    name: 'vigie_replication_changes_total',
    type: 'counter',
    labels: ['op'],
    services: ['collector-replication'],
    help: 'Row changes received, by operation.',
  },
  {
    name: 'vigie_replication_logical_messages_total',
    type: 'counter',
    labels: ['kept'],
    services: ['collector-replication'],
    help: 'Logical messages received, by whether they were kept as annotations.',
  },
  {
    name: 'vigie_replication_personal_data_values_total',
    type: 'counter',
    labels: [],
    services: ['collector-replication'],
    help: 'Personal identifiers found in rows written to a non-production cluster.',
  },
  {
    name: 'vigie_replication_confirmed_lsn_bytes',
    type: 'gauge',
    labels: [],
    services: ['collector-replication'],
    help: 'Last LSN confirmed to the server (everything before it is in Kafka), as a byte position.',
  },
  {
    name: 'vigie_replication_received_lsn_bytes',
    type: 'gauge',
    labels: [],
    services: ['collector-replication'],
    help: 'Last LSN received from the server, as a byte position.',
  },
  {
    name: 'vigie_replication_reconnects_total',
    type: 'counter',
    labels: ['reason'],
    services: ['collector-replication'],
    help: 'Replication connections re-established, by reason.',
  },
  {
    name: 'vigie_replication_connected',
    type: 'gauge',
    labels: [],
    services: ['collector-replication'],
    help: '1 while the replication stream is up.',
  },
  {
    name: 'vigie_replication_slot_retained_wal_bytes',
    type: 'gauge',
    labels: ['slot'],
    services: ['collector-replication'],
    help: 'WAL the slot keeps on the primary (pg_current_wal_lsn() - restart_lsn).',
  },
  {
    name: 'vigie_replication_slot_safe_wal_bytes',
    type: 'gauge',
    labels: ['slot'],
    services: ['collector-replication'],
    help: 'WAL that can still be written before the slot is lost (safe_wal_size); absent when unlimited.',
  },
  {
    name: 'vigie_replication_slot_active',
    type: 'gauge',
    labels: ['slot'],
    services: ['collector-replication'],
    help: '1 when a client streams from the slot.',
  },
  {
    name: 'vigie_replication_slot_known',
    type: 'gauge',
    labels: ['slot'],
    services: ['collector-replication'],
    help: '1 when Vigie created the slot or the policy lists it.',
  },
  {
    name: 'vigie_replication_slot_wal_status',
    type: 'gauge',
    labels: ['slot', 'status'],
    services: ['collector-replication'],
    help: '1 for the current wal_status of the slot (reserved, extended, unreserved, lost).',
  },
  {
    name: 'vigie_replication_slots_unknown',
    type: 'gauge',
    labels: [],
    services: ['collector-replication'],
    help: 'Slots neither created by Vigie nor listed in the policy.',
  },
  {
    name: 'vigie_replication_slots_lost',
    type: 'gauge',
    labels: [],
    services: ['collector-replication'],
    help: 'Slots whose wal_status is lost (a permanent gap in change data).',
  },
  {
    name: 'vigie_replication_publications_unknown',
    type: 'gauge',
    labels: [],
    services: ['collector-replication'],
    help: 'Publications of the monitored database neither created by Vigie nor listed in the policy.',
  },
  {
    name: 'vigie_replication_health_polls_total',
    type: 'counter',
    labels: ['outcome'],
    services: ['collector-replication'],
    help: 'Slot/publication polls, by outcome.',
  },
  {
    name: 'vigie_egress_sockets_tracked',
    type: 'gauge',
    labels: [],
    services: ['collector-egress'],
    help: 'Server TCP sockets whose counters are followed now.',
  },
  {
    name: 'vigie_egress_observed_bytes_total',
    type: 'counter',
    labels: ['client_class'],
    services: ['collector-egress'],
    help: 'Bytes the kernel sent to PostgreSQL clients, by client class from the site policy.',
  },
  {
    name: 'vigie_egress_sample_duration_seconds',
    type: 'histogram',
    labels: [],
    services: ['collector-egress'],
    help: 'Duration of one sampling round (ss run, join, events handed to Kafka).',
  },
  {
    name: 'vigie_egress_samples_failed_total',
    type: 'counter',
    labels: [],
    services: ['collector-egress'],
    help: 'Sampling rounds that failed (ss failed or timed out).',
  },
  {
    name: 'vigie_egress_join_failures_total',
    type: 'counter',
    labels: ['reason'],
    services: ['collector-egress'],
    help: 'Sockets that could not be tied to a session: no_session (client end not in pg_stat_activity), closed_unseen.',
  },
  {
    name: 'vigie_egress_close_events_total',
    type: 'counter',
    labels: [],
    services: ['collector-egress'],
    help: 'Close events of server sockets received from ss -E.',
  },
  {
    name: 'vigie_egress_closes_missed_total',
    type: 'counter',
    labels: [],
    services: ['collector-egress'],
    help: 'Sockets that vanished without a close event; their final sample used the last sampled counters.',
  },
  {
    name: 'vigie_egress_close_watcher_restarts_total',
    type: 'counter',
    labels: [],
    services: ['collector-egress'],
    help: 'Restarts of the ss -E child after it exited.',
  },
  {
    name: 'vigie_egress_lines_rejected_total',
    type: 'counter',
    labels: ['reason'],
    services: ['collector-egress'],
    help: 'ss output lines that could not be parsed, by reason.',
  },
  {
    name: 'vigie_egress_events_dropped_total',
    type: 'counter',
    labels: [],
    services: ['collector-egress'],
    help: 'Final samples dropped because too many waited for an unreachable Kafka (maxPendingEvents).',
  },
  {
    name: 'vigie_events_consumed_total',
    type: 'counter',
    labels: ['source'],
    services: ['detector'],
    help: 'Events decoded and fed to the rule engine, by topic family.',
  },
  {
    name: 'vigie_alerts_total',
    type: 'counter',
    labels: ['rule', 'severity'],
    services: ['detector'],
    help: 'Incidents raised (one per alert id; updates of the same incident are not counted).',
  },
  {
    name: 'vigie_alerts_active',
    type: 'gauge',
    labels: ['rule', 'severity'],
    services: ['detector'],
    help: 'Alerts firing now, by rule and severity.',
  },
  {
    name: 'vigie_partitions_owned',
    type: 'gauge',
    labels: [],
    services: ['detector'],
    help: 'Input partitions this detector instance owns (their clusters are its to watch); 0 while not in the group.',
  },
  {
    name: 'vigie_sessions_tracked',
    type: 'gauge',
    labels: [],
    services: ['detector'],
    help: 'Database sessions the rule engine holds state for.',
  },
  {
    name: 'vigie_sessions_evicted_total',
    type: 'counter',
    labels: [],
    services: ['detector'],
    help: 'Sessions dropped from the engine because they ended, went idle, or the session cap was reached.',
  },
  {
    name: 'vigie_egress_bytes_total',
    type: 'counter',
    labels: ['client_class'],
    services: ['detector'],
    help: 'Bytes PostgreSQL sent to clients (egress samples), by where the client stands.',
  },
  {
    name: 'vigie_event_to_alert_seconds',
    type: 'histogram',
    labels: [],
    services: ['detector'],
    help: 'From the time of the event that raised or updated an alert to Alertmanager accepting that state (states the clock produced, e.g. resolved after a silence or a periodic refresh, are not counted).',
  },
  {
    name: 'vigie_collector_last_heartbeat_timestamp_seconds',
    type: 'gauge',
    labels: ['collector', 'cluster'],
    services: ['detector'],
    help: 'Event time of the last heartbeat of each collector, per cluster.',
  },
  {
    name: 'vigie_alert_revisions_total',
    type: 'counter',
    labels: ['rule', 'reason'],
    services: ['detector'],
    help: 'Alert states published (Kafka, store, Alertmanager), by rule and why: opened, changed (severity, a new table or object, the acting role), counts (a count reached a power of two), refresh (other changes, every few minutes), ended (the session ended: its final figures), resolved, flush (at stop).',
  },
  {
    name: 'vigie_alert_updates_held_total',
    type: 'counter',
    labels: ['rule'],
    services: ['detector'],
    help: 'Incident updates kept in memory and in the store without a new revision (the next revision carries them), by rule.',
  },
  {
    name: 'vigie_alertmanager_push_failures_total',
    type: 'counter',
    labels: [],
    services: ['detector'],
    help: 'Failed pushes to Alertmanager (each is retried with backoff).',
  },
  {
    name: 'vigie_alertmanager_dropped_total',
    type: 'counter',
    labels: [],
    services: ['detector'],
    help: 'Alert states dropped from the full Alertmanager queue (firing ones are re-sent at the next resend).',
  },
  {
    name: 'vigie_alertmanager_queue_alerts',
    type: 'gauge',
    labels: [],
    services: ['detector'],
    help: 'Alert states waiting to be pushed to Alertmanager.',
  },
  {
    name: 'vigie_consumer_lag_messages',
    type: 'gauge',
    labels: ['source'],
    services: ['detector'],
    help: "Messages on the detector's input topics not yet processed by its consumer group, by topic family.",
  },
  {
    name: 'vigie_store_write_failures_total',
    type: 'counter',
    labels: [],
    services: ['detector'],
    help: 'Failed writes to the alert store (each is retried; the consumer waits meanwhile).',
  },
  {
    name: 'vigie_engine_errors_total',
    type: 'counter',
    labels: [],
    services: ['detector'],
    help: 'Events the rule engine threw on (skipped; a rule bug, see the service log).',
  },
  {
    name: 'vigie_detector_batch_seconds',
    type: 'histogram',
    labels: [],
    services: ['detector'],
    help: 'Time to process one consumed batch, effects included.',
  },
  {
    name: 'vigie_receiver_notifications_total',
    type: 'counter',
    labels: [],
    services: ['alert-receiver'],
    help: 'Notifications Alertmanager delivered to the local receiver.',
  },
];

/** The metrics `service` must export, by name, with the labels it exports them with. */
export function metricsOf(
  service: MetricService,
): Map<string, { type: MetricSpec['type']; labels: readonly string[] }> {
  const out = new Map<string, { type: MetricSpec['type']; labels: readonly string[] }>();
  for (const m of METRIC_CATALOGUE) {
    if (m.services.includes(service)) out.set(m.name, { type: m.type, labels: m.labelsIn?.[service] ?? m.labels });
  }
  return out;
}

/**
 * How `registry`'s `vigie_*` metrics differ from what the catalogue says `service` exports: one line per missing,
 * extra or different metric (empty when they match).
 */
export async function catalogueDiff(service: MetricService, registry: Registry): Promise<string[]> {
  const expected = metricsOf(service);
  const problems: string[] = [];
  const seen = new Set<string>();
  // Label names are not part of prom-client's JSON: read them from the metric objects.
  const labelsOf = new Map<string, readonly string[]>();
  for (const metric of registry.getMetricsAsArray()) {
    labelsOf.set(metric.name, (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? []);
  }
  for (const { name, type } of await registry.getMetricsAsJSON()) {
    if (!name.startsWith('vigie_')) continue;
    seen.add(name);
    const spec = expected.get(name);
    const labels = labelsOf.get(name) ?? [];
    if (spec === undefined) problems.push(`${name}: exported by ${service}, not in the catalogue for it`);
    else if (spec.type !== String(type)) problems.push(`${name}: a ${String(type)}, the catalogue says ${spec.type}`);
    else if (spec.labels.join(',') !== labels.join(',')) {
      problems.push(`${name}: labels [${labels.join(', ')}], the catalogue says [${spec.labels.join(', ')}]`);
    }
  }
  for (const name of expected.keys())
    if (!seen.has(name)) problems.push(`${name}: in the catalogue, not exported by ${service}`);
  return problems;
}
