import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createCollectorKitMetrics, type CollectorKitMetrics } from '@vigie/collector-kit';
import type { ClientClass } from '@vigie/contract';
import type { JoinFailure } from './analyze-sockets.js';
import type { SsRejectReason } from './parse-ss.js';

/**
 * The collector's metrics: the standard collector set (`@vigie/collector-kit`) and the egress ones; every label
 * value comes from a small fixed set.
 */
export interface EgressMetrics extends CollectorKitMetrics {
  socketsTracked: Gauge;
  observedBytes: Counter<'client_class'>;
  sampleDuration: Histogram;
  samplesFailed: Counter;
  joinFailures: Counter<'reason'>;
  closeEvents: Counter;
  closesMissed: Counter;
  closeWatcherRestarts: Counter;
  linesRejected: Counter<'reason'>;
  eventsDropped: Counter;
}

const CLIENT_CLASSES: readonly ClientClass[] = ['bastion', 'non-bastion', 'local', 'unknown'];
const JOIN_FAILURES: readonly JoinFailure[] = ['no_session', 'closed_unseen'];
const REJECT_REASONS: readonly SsRejectReason[] = ['too_few_fields', 'bad_endpoint'];

/** Registers the collector's metrics, with every label set created at startup so series exist from zero. */
export function createEgressMetrics(registry: Registry): EgressMetrics {
  const registers = [registry];
  const m: EgressMetrics = {
    ...createCollectorKitMetrics(registry, 'collector-egress'),
    socketsTracked: new Gauge({
      name: 'vigie_egress_sockets_tracked',
      help: 'Server TCP sockets whose counters are followed now.',
      registers,
    }),
    observedBytes: new Counter({
      name: 'vigie_egress_observed_bytes_total',
      help: 'Bytes the kernel sent to PostgreSQL clients, by client class from the site policy.',
      labelNames: ['client_class'],
      registers,
    }),
    sampleDuration: new Histogram({
      name: 'vigie_egress_sample_duration_seconds',
      help: 'Duration of one sampling round (ss run, join, events handed to Kafka).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    samplesFailed: new Counter({
      name: 'vigie_egress_samples_failed_total',
      help: 'Sampling rounds that failed (ss failed or timed out).',
      registers,
    }),
    joinFailures: new Counter({
      name: 'vigie_egress_join_failures_total',
      help: 'Sockets that could not be tied to a session: no_session (client end not in pg_stat_activity), closed_unseen.',
      labelNames: ['reason'],
      registers,
    }),
    closeEvents: new Counter({
      name: 'vigie_egress_close_events_total',
      help: 'Close events of server sockets received from ss -E.',
      registers,
    }),
    closesMissed: new Counter({
      name: 'vigie_egress_closes_missed_total',
      help: 'Sockets that vanished without a close event; their final sample used the last sampled counters.',
      registers,
    }),
    closeWatcherRestarts: new Counter({
      name: 'vigie_egress_close_watcher_restarts_total',
      help: 'Restarts of the ss -E child after it exited.',
      registers,
    }),
    linesRejected: new Counter({
      name: 'vigie_egress_lines_rejected_total',
      help: 'ss output lines that could not be parsed, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    eventsDropped: new Counter({
      name: 'vigie_egress_events_dropped_total',
      help: 'Final samples dropped because too many waited for an unreachable Kafka (maxPendingEvents).',
      registers,
    }),
  };
  for (const c of CLIENT_CLASSES) m.observedBytes.inc({ client_class: c }, 0);
  for (const r of JOIN_FAILURES) m.joinFailures.inc({ reason: r }, 0);
  for (const r of REJECT_REASONS) m.linesRejected.inc({ reason: r }, 0);
  return m;
}
