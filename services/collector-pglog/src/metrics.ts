import { Counter, Gauge, type Registry } from 'prom-client';
import { createCollectorKitMetrics } from '@vigie/collector-kit';

/**
 * The collector's Prometheus metrics: the standard collector set (`vigie_collector_*` and the dead-letter counter,
 * see `@vigie/collector-kit`) and pglog's own. Label values come from small fixed sets only.
 */
export function createCollectorMetrics(registry: Registry) {
  const r = [registry];
  return {
    ...createCollectorKitMetrics(registry, 'collector-pglog'),
    recordsRead: new Counter({
      name: 'vigie_pglog_records_read_total',
      help: 'Log records read, by outcome (event, merged into a statement, ignored, rejected).',
      labelNames: ['outcome'] as const,
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
}
/** The collector's metric set. */
export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;
