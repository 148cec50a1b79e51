import { entityKey, type OwnSessions, type SourceHealth, type VigieEvent } from '@vigie/contract';
import type { CompiledPolicy } from '@vigie/policy';
import type { Logger } from '@vigie/runtime';
import type { ReplicationConfig } from './config.js';
import type { ReplicationMetrics } from './metrics.js';
import type { PgConnection } from './setup-replication.js';
import { createSlotHealthPoller, type SlotHealthPoller } from './source-slot-health.js';

export interface SlotHealthWiring {
  config: Pick<ReplicationConfig, 'cluster' | 'slot' | 'publication' | 'health'>;
  connection: PgConnection;
  policy: CompiledPolicy;
  metrics: ReplicationMetrics;
  logger: Logger;
  own: OwnSessions;
  accounts: readonly string[];
  walsenderPid: () => number | undefined;
  health: () => SourceHealth;
  publish: (event: VigieEvent, key?: string) => void;
}

/** The slot/publication poller, its events keyed by slot and publication, its heartbeat unkeyed. */
export function createSlotHealth(o: SlotHealthWiring): SlotHealthPoller {
  const { config } = o;
  return createSlotHealthPoller({
    connection: o.connection,
    cluster: config.cluster,
    ownSlot: config.slot,
    ownPublication: config.publication,
    isKnownSlot: (n) => o.policy.isKnownSlot(n),
    isKnownPublication: (n) => o.policy.isKnownPublication(n),
    intervalMs: config.health.intervalMs,
    maxSlotSeries: config.health.maxSlotSeries,
    metrics: o.metrics,
    logger: o.logger,
    own: o.own,
    accounts: o.accounts,
    walsenderPid: o.walsenderPid,
    health: o.health,
    emit: ({ slots, publications, heartbeat }) => {
      for (const s of slots) o.publish(s, entityKey(config.cluster, `slot/${s.slot}`));
      for (const p of publications) {
        o.publish(p, entityKey(config.cluster, `publication/${p.database}/${p.publication}`));
      }
      o.publish(heartbeat);
    },
  });
}
