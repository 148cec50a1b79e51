import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RejectReason } from '@vigie/contract';

/** The collector's Prometheus metrics; label values come from small fixed sets only. */
export function createCollectorMetrics(registry: Registry) {
  const r = [registry];
  const metrics = {
    recordsRead: new Counter({
      name: 'vigie_pglog_records_read_total',
      help: 'Log records read, by outcome (event, merged into a statement, ignored, rejected).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    eventsProduced: new Counter({
      name: 'vigie_pglog_events_produced_total',
      help: 'Events acknowledged by Kafka, by kind.',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    rejected: new Counter({
      name: 'vigie_records_rejected_total',
      help: 'Records sent to the dead-letter topic, by reason.',
      labelNames: ['component', 'reason'] as const,
      registers: r,
    }),
    bytesRead: new Counter({ name: 'vigie_pglog_read_bytes_total', help: 'Log bytes read.', registers: r }),
    lagBytes: new Gauge({
      name: 'vigie_pglog_lag_bytes',
      help: 'Log bytes written by the server and not read yet.',
      registers: r,
    }),
    lagSeconds: new Gauge({
      name: 'vigie_pglog_lag_seconds',
      help: 'Age of the last record read when there is more to read; 0 at the end of the log.',
      registers: r,
    }),
    checkpointAge: new Gauge({
      name: 'vigie_pglog_checkpoint_age_seconds',
      help: 'Seconds since the checkpoint last moved forward while there was something to checkpoint.',
      registers: r,
    }),
    produceLatency: new Histogram({
      name: 'vigie_pglog_produce_latency_seconds',
      help: 'Time from handing a batch to the producer to its acknowledgement by Kafka.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: r,
    }),
    inFlight: new Gauge({
      name: 'vigie_pglog_inflight_events',
      help: 'Events sent, not yet acknowledged.',
      registers: r,
    }),
    backpressure: new Gauge({
      name: 'vigie_pglog_backpressure',
      help: '1 while reading is paused because Kafka is slow or unreachable.',
      registers: r,
    }),
    rotations: new Counter({ name: 'vigie_pglog_rotations_total', help: 'Log file switches.', registers: r }),
    truncations: new Counter({
      name: 'vigie_pglog_truncations_total',
      help: 'Log files found shorter than the read position (restarted at 0).',
      registers: r,
    }),
    logGaps: new Counter({
      name: 'vigie_pglog_log_gaps_total',
      help: 'Log files found shrunk or gone before they were read to their end (log.gap events), by reason.',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    settingsChecks: new Counter({
      name: 'vigie_pglog_settings_checks_total',
      help: 'Checks of the server audit settings, by outcome (ok, drift, failed).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    settingsDrift: new Gauge({
      name: 'vigie_pglog_settings_drift',
      help: 'Settings found drifted at the last check (0: the server audits what Vigie needs).',
      registers: r,
    }),
    invalidUtf8Bytes: new Counter({
      name: 'vigie_pglog_invalid_utf8_bytes_total',
      help: 'Log bytes that were not valid UTF-8 (read as U+FFFD): a server writing another encoding, or corruption.',
      registers: r,
    }),
    symlinksRefused: new Counter({
      name: 'vigie_pglog_symlinks_refused_total',
      help: 'Symbolic links found in the log directory and refused (never read as logs).',
      registers: r,
    }),
    sessions: new Gauge({ name: 'vigie_pglog_sessions', help: 'Sessions remembered.', registers: r }),
    sourceUp: new Gauge({
      name: 'vigie_collector_source_up',
      help: '1 while the collector reads its source, 0 while it cannot (e.g. a log file it may not open): it is blind.',
      registers: r,
    }),
    sourceFailures: new Counter({
      name: 'vigie_pglog_source_failures_total',
      help: 'Attempts to open or read a log file that failed (each is retried with backoff).',
      registers: r,
    }),
    sessionEvictions: new Counter({
      name: 'vigie_pglog_session_evictions_total',
      help: 'Sessions forgotten because the session table was full.',
      registers: r,
    }),
  };
  // Every reason starts at 0: a counter born at 1 shows no increase() for its first rejection (dashboards, alerts).
  for (const reason of RejectReason.options) metrics.rejected.inc({ component: 'collector-pglog', reason }, 0);
  return metrics;
}
/** The collector's metric set. */
export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;
