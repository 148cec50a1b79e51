import { Counter, Gauge, type Registry } from 'prom-client';
import { createCollectorKitMetrics } from '@vigie/collector-kit';

/** WAL statuses PostgreSQL reports (`pg_replication_slots.wal_status`); the only values of the `status` label. */
export const WAL_STATUSES = ['reserved', 'extended', 'unreserved', 'lost'] as const;

/** Why the stream reconnected: a fixed set (label values). */
export type ReconnectReason = 'error' | 'ended' | 'setup';

/**
 * The collector's metrics, created once at startup: the standard collector set (`@vigie/collector-kit`) and the
 * replication ones. Slot names are used as a label: they are bounded by the
 * server's `max_replication_slots` (tens at most) and capped again by `health.maxSlotSeries`, and a per-slot
 * retention graph is what an SRE needs when the disk fills. No label ever carries a user, table or value.
 */
export function createReplicationMetrics(registry: Registry) {
  const r = [registry];
  return {
    ...createCollectorKitMetrics(registry, 'collector-replication'),
    transactions: new Counter({
      name: 'vigie_replication_transactions_total',
      help: 'Transactions received from the replication stream.',
      registers: r,
    }),
    changes: new Counter({
      name: 'vigie_replication_changes_total',
      help: 'Row changes received, by operation.',
      labelNames: ['op'] as const,
      registers: r,
    }),
    messages: new Counter({
      name: 'vigie_replication_logical_messages_total',
      help: 'Logical messages received, by whether they were kept as annotations.',
      labelNames: ['kept'] as const,
      registers: r,
    }),
    personalData: new Counter({
      name: 'vigie_replication_personal_data_values_total',
      help: 'Personal identifiers found in rows written to a non-production cluster.',
      registers: r,
    }),
    confirmedLsn: new Gauge({
      name: 'vigie_replication_confirmed_lsn_bytes',
      help: 'Last LSN confirmed to the server (everything before it is in Kafka), as a byte position.',
      registers: r,
    }),
    receivedLsn: new Gauge({
      name: 'vigie_replication_received_lsn_bytes',
      help: 'Last LSN received from the server, as a byte position.',
      registers: r,
    }),
    reconnects: new Counter({
      name: 'vigie_replication_reconnects_total',
      help: 'Replication connections re-established, by reason.',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    connected: new Gauge({
      name: 'vigie_replication_connected',
      help: '1 while the replication stream is up.',
      registers: r,
    }),
    slotRetained: new Gauge({
      name: 'vigie_replication_slot_retained_wal_bytes',
      help: 'WAL the slot keeps on the primary (pg_current_wal_lsn() - restart_lsn).',
      labelNames: ['slot'] as const,
      registers: r,
    }),
    slotSafe: new Gauge({
      name: 'vigie_replication_slot_safe_wal_bytes',
      help: 'WAL that can still be written before the slot is lost (safe_wal_size); absent when unlimited.',
      labelNames: ['slot'] as const,
      registers: r,
    }),
    slotActive: new Gauge({
      name: 'vigie_replication_slot_active',
      help: '1 when a client streams from the slot.',
      labelNames: ['slot'] as const,
      registers: r,
    }),
    slotKnown: new Gauge({
      name: 'vigie_replication_slot_known',
      help: '1 when Vigie created the slot or the policy lists it.',
      labelNames: ['slot'] as const,
      registers: r,
    }),
    slotWalStatus: new Gauge({
      name: 'vigie_replication_slot_wal_status',
      help: '1 for the current wal_status of the slot (reserved, extended, unreserved, lost).',
      labelNames: ['slot', 'status'] as const,
      registers: r,
    }),
    slotsUnknown: new Gauge({
      name: 'vigie_replication_slots_unknown',
      help: 'Slots neither created by Vigie nor listed in the policy.',
      registers: r,
    }),
    slotsLost: new Gauge({
      name: 'vigie_replication_slots_lost',
      help: 'Slots whose wal_status is lost (a permanent gap in change data).',
      registers: r,
    }),
    publicationsUnknown: new Gauge({
      name: 'vigie_replication_publications_unknown',
      help: 'Publications of the monitored database neither created by Vigie nor listed in the policy.',
      registers: r,
    }),
    healthPolls: new Counter({
      name: 'vigie_replication_health_polls_total',
      help: 'Slot/publication polls, by outcome.',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
  };
}
export type ReplicationMetrics = ReturnType<typeof createReplicationMetrics>;
