import type { Pgoutput } from 'pg-logical-replication';
import { entityKey, type TableChangeCounts, type VigieEvent } from '@vigie/contract';
import { rateLimited, type Logger } from '@vigie/runtime';
import type { TxnAggregator } from './aggregate-txn.js';
import type { ReplicationMetrics } from './metrics.js';

/** Where a committed transaction's summary goes: the outbox, whose pending count is the backpressure. */
export interface TxnSink {
  /** Queues an event; `ackLsn`, once Kafka acknowledged it and everything before, is confirmed to the server. */
  publish(event: VigieEvent, key?: string, ackLsn?: bigint): void;
  readonly pending: number;
  whenAtMost(n: number): Promise<void>;
}

export interface StreamMessagesOptions {
  cluster: string;
  /** Above this many pending events, reading stops until half of them are acknowledged. */
  maxPending: number;
  aggregator: TxnAggregator;
  sink: TxnSink;
  metrics: ReplicationMetrics;
  logger: Logger;
}

/** Builds the handler of each pgoutput message: into the transaction aggregator, a summary out at commit. */
export function createStreamMessages({
  cluster,
  maxPending,
  aggregator,
  sink,
  metrics,
  logger,
}: StreamMessagesOptions): (lsn: string, m: Pgoutput.Message) => Promise<void> {
  const changes = {
    insert: metrics.changes.labels({ op: 'insert' }),
    update: metrics.changes.labels({ op: 'update' }),
    delete: metrics.changes.labels({ op: 'delete' }),
    truncate: metrics.changes.labels({ op: 'truncate' }),
  };
  const countChanges = (tables: readonly TableChangeCounts[]) => {
    let insert = 0;
    let update = 0;
    let del = 0;
    let truncate = 0;
    for (const t of tables) {
      insert += t.insert;
      update += t.update;
      del += t.delete;
      truncate += t.truncate;
    }
    if (insert) changes.insert.inc(insert);
    if (update) changes.update.inc(update);
    if (del) changes.delete.inc(del);
    if (truncate) changes.truncate.inc(truncate);
  };
  const logUnknown = rateLimited(60_000, (suppressed: number, tag: string) =>
    logger.warn({ tag, suppressed }, 'unexpected pgoutput message ignored'),
  );

  return async (lsn, m) => {
    switch (m.tag) {
      case 'begin':
        aggregator.begin(m.xid, m.commitLsn, m.commitTime as bigint);
        return;
      // Row counters are added once per transaction from its summary (below), not per row.
      case 'insert':
        aggregator.change('insert', m.relation, m.new);
        return;
      case 'update':
        aggregator.change('update', m.relation, m.new);
        return;
      case 'delete':
        aggregator.change('delete', m.relation, null);
        return;
      case 'truncate':
        aggregator.truncate(m.relations);
        return;
      case 'message': {
        const kept = aggregator.message(m.prefix, m.content, m.transactional);
        metrics.messages.inc({ kept: kept ? 'true' : 'false' });
        return;
      }
      case 'commit': {
        const done = aggregator.commit(m.commitEndLsn, lsn);
        metrics.transactions.inc();
        countChanges(done.event.tables);
        if (done.personalDataValues > 0) metrics.personalData.inc(done.personalDataValues);
        sink.publish(done.event, entityKey(cluster, `xid/${done.event.xid}`), done.ackLsn);
        // Backpressure: with Kafka slow or down, stop reading (flow control pauses the socket) instead of buffering.
        if (sink.pending > maxPending) {
          metrics.backpressure.set(1);
          await sink.whenAtMost(Math.floor(maxPending / 2));
          metrics.backpressure.set(0);
        }
        return;
      }
      case 'relation':
      case 'type':
      case 'origin':
        return;
      default:
        logUnknown((m as { tag: string }).tag);
    }
  };
}
