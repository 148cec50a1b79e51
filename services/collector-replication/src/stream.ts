import type { OwnSessions } from '@vigie/contract';
import type { Logger } from '@vigie/runtime';
import type { ReplicationConfig } from './config.js';
import { lsnToNumber } from './lsn.js';
import type { ReplicationMetrics } from './metrics.js';
import { ensureReplication, type PgConnection } from './setup-replication.js';
import { createReplicationSource, type ReplicationSource, type StreamHandler } from './source-replication.js';

export interface StreamOptions {
  config: Pick<ReplicationConfig, 'slot' | 'publication' | 'reconnect'>;
  connection: PgConnection;
  setup: PgConnection | undefined;
  handler: StreamHandler;
  metrics: ReplicationMetrics;
  logger: Logger;
  own: OwnSessions;
}

/** The replication stream as the collector runs it: metrics, the walsender's pid, and the slot kept in place. */
export interface Stream {
  source: ReplicationSource;
  /** Backend pid of the walsender while streaming. */
  walsenderPid(): number | undefined;
  /** Creates the publication and the slot if missing. */
  ensure(): ReturnType<typeof ensureReplication>;
}

export function createStream({ config, connection, setup, handler, metrics, logger, own }: StreamOptions): Stream {
  let walsender: number | undefined;
  const ensure = () =>
    ensureReplication({ connection, setup, slot: config.slot, publication: config.publication, logger, own });
  const source = createReplicationSource({
    connection,
    slot: config.slot,
    publication: config.publication,
    logger,
    maxBackoffMs: config.reconnect.maxBackoffMs,
    handler,
    onConnectionChange: (up) => {
      metrics.connected.set(up ? 1 : 0);
      metrics.sourceUp.set(up ? 1 : 0);
    },
    onReconnect: (reason) => metrics.reconnects.inc({ reason }),
    onConfirmed: (lsn) => metrics.confirmedLsn.set(lsnToNumber(lsn)),
    onReceived: (lsn) => metrics.receivedLsn.set(lsnToNumber(lsn)),
    own,
    // Announced at the next poll (health.intervalMs, 30 s), well within the detector's announcement grace (90 s);
    // an extra poll here would also queue slot and publication events behind a stalled Kafka.
    onStreamStart: (pid) => (walsender = pid),
    // A slot dropped while we run is created again (at the server's current position: the gap is visible in the
    // slot events and the logs). A lost slot is not: see VIGIE_REPLICATION_SLOT_LOST.
    beforeConnect: async () => {
      const made = await ensure();
      if (made.slotCreated || made.publicationCreated) {
        logger.warn(
          { slot: config.slot, publication: config.publication, ...made },
          'slot or publication was dropped while the collector ran and has been created again: changes in between are missing',
        );
      }
    },
  });
  return { source, walsenderPid: () => (source.connected ? walsender : undefined), ensure };
}
