import { collectorHeartbeat, type OwnSessions, type SourceHealth, type VigieEvent } from '@vigie/contract';
import type { EgressMetrics } from './metrics.js';
import { EGRESS_ERRORS } from './errors.js';

/** The collector's heartbeat, carrying the sampling loop's health. */
export interface EgressHeartbeat {
  /** Queues a heartbeat (droppable) and sends what is queued. */
  beat(): Promise<void>;
}

export interface EgressHeartbeatOptions {
  cluster: string;
  instance: string;
  /** The role the collector connects as. */
  accounts: string[];
  own: OwnSessions;
  metrics: EgressMetrics;
  /** Whether the sampling loop has had no successful round for too long, and since when it had one. */
  sampling: { stale(nowMs: number): boolean; sinceOkMs(nowMs: number): number };
  /** Whether the last pg_stat_activity poll failed. */
  activity: { readonly failing: boolean };
  enqueue: (key: string | undefined, event: VigieEvent, droppable: boolean) => void;
  flush: () => Promise<void>;
}

export function createEgressHeartbeat(o: EgressHeartbeatOptions): EgressHeartbeat {
  let health: SourceHealth = { state: 'ok', since: new Date().toISOString() };

  /** The sampling loop's health: blind when `ss` rounds fail, or when sockets cannot be joined to sessions. */
  const sourceHealth = (nowMs: number): SourceHealth => {
    const stale = o.sampling.stale(nowMs);
    const error = stale ? EGRESS_ERRORS.SS_FAILED : o.activity.failing ? EGRESS_ERRORS.PG_QUERY : undefined;
    if ((error === undefined) !== (health.state === 'ok') || error !== health.error) {
      health = {
        state: error === undefined ? 'ok' : 'failing',
        since: new Date(nowMs).toISOString(),
        ...(error !== undefined && { error }),
      };
    }
    return health;
  };

  const beat = async (): Promise<void> => {
    const now = new Date();
    const hb = sourceHealth(now.getTime());
    o.metrics.sourceUp.set(hb.state === 'ok' ? 1 : 0);
    o.enqueue(
      undefined,
      collectorHeartbeat({
        cluster: o.cluster,
        collector: 'collector-egress',
        instance: o.instance,
        at: now,
        lagSeconds: Math.max(0, o.sampling.sinceOkMs(now.getTime()) / 1000),
        health: hb,
        accounts: o.accounts,
        identities: o.own.list(now.getTime()),
      }),
      true,
    );
    await o.flush();
  };

  return { beat };
}
