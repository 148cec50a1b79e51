import { hostname } from 'node:os';
import pg from 'pg';
import {
  collectorHeartbeat,
  identityOfRow,
  type CollectorHeartbeatEvent,
  type OwnSessionRow,
  type OwnSessions,
  type PublicationStatusEvent,
  type SlotStatusEvent,
  type SourceHealth,
} from '@vigie/contract';
import { describeError, type Logger } from '@vigie/runtime';
import { WAL_STATUSES, type ReplicationMetrics } from './metrics.js';
import type { PgConnection } from './setup-replication.js';

/** One poll's findings, as events for Kafka. */
export interface HealthSnapshot {
  slots: SlotStatusEvent[];
  publications: PublicationStatusEvent[];
  heartbeat: CollectorHeartbeatEvent;
}

/** Options of {@link createSlotHealthPoller}. */
export interface SlotHealthOptions {
  connection: PgConnection;
  cluster: string;
  ownSlot: string;
  ownPublication: string;
  isKnownSlot: (name: string) => boolean;
  isKnownPublication: (name: string) => boolean;
  intervalMs: number;
  maxSlotSeries: number;
  metrics: ReplicationMetrics;
  logger: Logger;
  /** Receives each poll's events. */
  emit: (snapshot: HealthSnapshot) => void;
  now?: () => Date;
  /** The collector's own sessions, announced in each heartbeat; this poller adds its own and the walsender's. */
  own: OwnSessions;
  /** Roles the collector connects as (its configuration), announced in every heartbeat. */
  accounts: readonly string[];
  /** Backend pid of the collector's walsender, when streaming (from its own connection). */
  walsenderPid: () => number | undefined;
  /** Whether the replication stream is being read, for the heartbeat. */
  health: () => SourceHealth;
}

/** Polls `pg_replication_slots` and `pg_publication` on a timer. */
export interface SlotHealthPoller {
  start(): void;
  /** One poll now (tests, and the first poll at start). */
  pollOnce(): Promise<HealthSnapshot | undefined>;
  stop(): Promise<void>;
}

interface SlotRow {
  slot_name: string;
  plugin: string | null;
  slot_type: 'logical' | 'physical';
  database: string | null;
  active: boolean;
  wal_status: string | null;
  safe_wal_size: string | null;
  retained: string | null;
  confirmed_lag: string | null;
}

const SLOTS_SQL = `
SELECT slot_name, plugin, slot_type, database, active, wal_status, safe_wal_size::text,
       pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained,
       pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS confirmed_lag
  FROM pg_replication_slots ORDER BY slot_name`;
const PUBLICATIONS_SQL = 'SELECT pubname, puballtables, current_database() AS db FROM pg_publication ORDER BY pubname';

const toInt = (s: string | null): number | undefined => (s === null ? undefined : Number(s));

// This connection's own row and the walsender's (by the pid its own connection reported): how the server sees
// them, for the heartbeat. Visible to the collector's role without extra rights: both are its own sessions.
const OWN_SQL = `SELECT pid, extract(epoch FROM backend_start)::float8 AS backend_start, usename::text AS role,
  application_name, coalesce(host(client_addr), 'local') AS client_addr, datname::text AS datname, backend_type
  FROM pg_stat_activity WHERE pid = pg_backend_pid() OR pid = $1`;

/**
 * Slot and publication health. A slot is `known` when it is the collector's own or the policy lists it; an unknown
 * slot is a copy of the database leaving, a lost one a permanent gap, a large retention a disk about to fill: the
 * detector's `replication-slot-risk` rule decides on the events. Publications are per database: only the monitored
 * database's are visible from this connection.
 */
export function createSlotHealthPoller(options: SlotHealthOptions): SlotHealthPoller {
  const { connection, cluster, ownSlot, ownPublication, metrics, logger, intervalMs } = options;
  const now = options.now ?? (() => new Date());
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const seriesSlots = new Set<string>();
  const instance = hostname();

  const connect = async (): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client({ ...connection, application_name: 'vigie-collector-replication-health' });
    c.on('error', () => {
      if (client === c) client = undefined;
    });
    await c.connect();
    client = c;
    return c;
  };

  const labelFor = (slot: string): string => {
    if (seriesSlots.has(slot)) return slot;
    if (seriesSlots.size < options.maxSlotSeries) {
      seriesSlots.add(slot);
      return slot;
    }
    return '_other';
  };

  const updateMetrics = (slots: SlotStatusEvent[]) => {
    // Reset so a dropped slot's series disappears instead of freezing at its last value.
    for (const g of [metrics.slotRetained, metrics.slotSafe, metrics.slotActive, metrics.slotKnown]) g.reset();
    metrics.slotWalStatus.reset();
    const present = new Set(slots.map((s) => s.slot));
    for (const s of [...seriesSlots]) if (!present.has(s)) seriesSlots.delete(s);
    for (const s of slots) {
      const slot = labelFor(s.slot);
      const inc = slot === '_other';
      const set = (g: typeof metrics.slotRetained, v: number) => (inc ? g.inc({ slot }, v) : g.set({ slot }, v));
      if (s.retainedWalBytes !== undefined) set(metrics.slotRetained, s.retainedWalBytes);
      if (s.safeWalSizeBytes !== undefined) set(metrics.slotSafe, s.safeWalSizeBytes);
      set(metrics.slotActive, s.active ? 1 : 0);
      set(metrics.slotKnown, s.known ? 1 : 0);
      for (const status of WAL_STATUSES) {
        if (s.walStatus === status) metrics.slotWalStatus.inc({ slot, status }, 1);
        else if (!inc) metrics.slotWalStatus.set({ slot, status }, 0);
      }
    }
    metrics.slotsUnknown.set(slots.filter((s) => !s.known).length);
    metrics.slotsLost.set(slots.filter((s) => s.walStatus === 'lost').length);
  };

  const pollOnce = async (): Promise<HealthSnapshot | undefined> => {
    const at = now();
    const ts = at.toISOString();
    try {
      const c = await connect();
      const slotRows = (await c.query<SlotRow>(SLOTS_SQL)).rows;
      const pubRows = (await c.query<{ pubname: string; puballtables: boolean; db: string }>(PUBLICATIONS_SQL)).rows;
      const slots: SlotStatusEvent[] = slotRows.map((r) => {
        const retained = toInt(r.retained);
        const safe = toInt(r.safe_wal_size);
        return {
          v: 1,
          id: `${cluster}:slot:${r.slot_name}:${at.getTime()}`,
          kind: 'replication.slot',
          cluster,
          ts,
          slot: r.slot_name,
          ...(r.plugin ? { plugin: r.plugin } : {}),
          slotType: r.slot_type,
          active: r.active,
          ...(r.wal_status ? { walStatus: r.wal_status } : {}),
          ...(safe !== undefined ? { safeWalSizeBytes: safe } : {}),
          ...(retained !== undefined ? { retainedWalBytes: Math.max(0, retained) } : {}),
          known: r.slot_name === ownSlot || options.isKnownSlot(r.slot_name),
        };
      });
      const publications: PublicationStatusEvent[] = pubRows.map((r) => ({
        v: 1,
        id: `${cluster}:publication:${r.db}:${r.pubname}:${at.getTime()}`,
        kind: 'replication.publication',
        cluster,
        ts,
        publication: r.pubname,
        database: r.db,
        allTables: r.puballtables,
        known: r.pubname === ownPublication || options.isKnownPublication(r.pubname),
      }));
      const ownSlotRow = slotRows.find((r) => r.slot_name === ownSlot);
      const lag = ownSlotRow ? toInt(ownSlotRow.confirmed_lag) : undefined;
      const mine = (await c.query<OwnSessionRow>(OWN_SQL, [options.walsenderPid() ?? -1])).rows;
      for (const row of mine) options.own.seen(identityOfRow(row), at.getTime());
      const heartbeat = collectorHeartbeat({
        cluster,
        collector: 'collector-replication',
        instance,
        at,
        lagBytes: lag === undefined ? undefined : Math.max(0, lag),
        // Reading the stream is the source: connected or not is what the detector needs to know.
        health: options.health(),
        accounts: options.accounts,
        identities: options.own.list(at.getTime()),
      });
      updateMetrics(slots);
      metrics.publicationsUnknown.set(publications.filter((p) => !p.known).length);
      metrics.healthPolls.inc({ outcome: 'ok' });
      const snapshot = { slots, publications, heartbeat };
      options.emit(snapshot);
      return snapshot;
    } catch (error) {
      metrics.healthPolls.inc({ outcome: 'error' });
      logger.warn({ error: describeError(error) }, 'slot health poll failed');
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
      return undefined;
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pollOnce().finally(schedule);
    }, intervalMs);
  };

  return {
    start() {
      running = pollOnce().finally(schedule);
    },
    pollOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
