import type { ClientClass, SessionInfo } from '@vigie/contract';
import { RecencyList, type RecencyNode } from './primitives/recency-list.js';

/** What the engine remembers about one database session (partition-local). */
export interface SessionState {
  /** `<cluster>/<session_id>`. */
  readonly key: string;
  readonly cluster: string;
  readonly id: string;
  login?: string;
  database?: string;
  clientAddr?: string;
  clientClass: ClientClass;
  applicationName?: string;
  backendType?: string;
  startedAtMs?: number;
  /** Role in effect after `SET ROLE` (last statement's effective role). */
  effectiveRole?: string;
  /** Event time of the newest event seen for the session. */
  lastEventMs: number;
  /** The detector's clock when its newest event arrived (event time in a replay): idle eviction counts on it. */
  lastArrivedMs: number;
  /** The detector's clock when `session.end` (or a final egress sample) arrived, when seen. */
  endedAtMs?: number;
  /** Number of events seen. */
  events: number;
  /** Per-rule state, keyed by rule id; each rule type owns the shape of its entry. */
  readonly rules: Map<string, unknown>;
  /**
   * Whether the login or effective role is on the policy's watchlist, as answered for that login and role: every
   * rule asks it for every event (see rules/load.ts), a field is cheaper to read than a `rules` entry.
   */
  watchlist?: { login: string | undefined; role: string | undefined; watched: boolean };
  /** Whether the login is one of Vigie's accounts, as of self-knowledge generation `vigieGeneration`. */
  vigieAccount?: boolean;
  vigieGeneration?: number;
}

/** Bounded table of sessions: LRU on event arrival, capped, with idle/ended eviction on `sweep`. */
export interface SessionTable {
  /**
   * Gets or creates the session of an event; refreshes what the event says about it. `tsMs` is the event's time,
   * `arrivedMs` the detector's clock at its arrival (default: `tsMs`).
   */
  touch(
    cluster: string,
    info: SessionInfo,
    tsMs: number,
    classify: (addr: string | undefined) => ClientClass,
    arrivedMs?: number,
  ): SessionState;
  get(key: string): SessionState | undefined;
  /**
   * Evicts sessions ended `endedGraceMs` ago and sessions idle for `idleMs`, both on the detector's clock `nowMs`;
   * returns the evicted.
   */
  sweep(nowMs: number): SessionState[];
  readonly size: number;
  /** Total evictions (idle, ended and over the cap) since creation. */
  readonly evicted: number;
}

/** A session in the table's recency list (least recently touched first). */
interface Entry extends RecencyNode<Entry> {
  readonly state: SessionState;
}

/** Creates the session table. `onEvict` sees every session that leaves (for cleanup of alert links). */
export function createSessionTable({
  maxSessions = 100_000,
  idleMs = 30 * 60_000,
  endedGraceMs = 60_000,
  onEvict = (_s: SessionState): void => undefined,
}: {
  maxSessions?: number;
  idleMs?: number;
  endedGraceMs?: number;
  onEvict?: (s: SessionState) => void;
} = {}): SessionTable {
  const sessions = new Map<string, Entry>();
  // The same entries by cluster then session id: an event finds its session without building (and hashing) a
  // `<cluster>/<session>` key. Session ids hold no '/' (the contract's pattern), so the two agree.
  const byCluster = new Map<string, Map<string, Entry>>();
  const recency = new RecencyList<Entry>();
  let evicted = 0;

  function evict(e: Entry): void {
    sessions.delete(e.state.key);
    const ids = byCluster.get(e.state.cluster);
    ids?.delete(e.state.id);
    if (ids?.size === 0) byCluster.delete(e.state.cluster);
    recency.unlink(e);
    evicted += 1;
    onEvict(e.state);
  }

  return {
    touch(cluster, info, tsMs, classify, arrivedMs = tsMs) {
      let e = byCluster.get(cluster)?.get(info.id);
      if (e === undefined) {
        const key = `${cluster}/${info.id}`;
        e = {
          state: {
            key,
            cluster,
            id: info.id,
            clientClass: classify(info.clientAddr),
            lastEventMs: tsMs,
            lastArrivedMs: arrivedMs,
            events: 0,
            rules: new Map(),
          },
          older: undefined,
          newer: undefined,
        };
        if (sessions.size >= maxSessions && recency.oldest !== undefined) evict(recency.oldest);
        sessions.set(key, e);
        let ids = byCluster.get(cluster);
        if (ids === undefined) byCluster.set(cluster, (ids = new Map()));
        ids.set(info.id, e);
        recency.append(e);
      } else {
        recency.touch(e);
      }
      const s = e.state;
      s.events += 1;
      // Events can arrive slightly out of order across topics: time only moves forward.
      if (tsMs > s.lastEventMs) s.lastEventMs = tsMs;
      if (arrivedMs > s.lastArrivedMs) s.lastArrivedMs = arrivedMs;
      if (info.user !== undefined) s.login = info.user;
      if (info.database !== undefined) s.database = info.database;
      if (info.clientAddr !== undefined && info.clientAddr !== s.clientAddr) {
        s.clientAddr = info.clientAddr;
        s.clientClass = classify(info.clientAddr);
      }
      if (info.applicationName !== undefined) s.applicationName = info.applicationName;
      if (info.backendType !== undefined) s.backendType = info.backendType;
      if (info.startedAt !== undefined && s.startedAtMs === undefined) s.startedAtMs = Date.parse(info.startedAt);
      return s;
    },
    get: (key) => sessions.get(key)?.state,
    sweep(nowMs) {
      const out: Entry[] = [];
      for (let e = recency.oldest; e !== undefined; e = e.newer) {
        const s = e.state;
        const ended = s.endedAtMs !== undefined && nowMs - s.endedAtMs >= endedGraceMs;
        if (ended || nowMs - s.lastArrivedMs >= idleMs) out.push(e);
      }
      for (const e of out) evict(e);
      return out.map((e) => e.state);
    },
    get size() {
      return sessions.size;
    },
    get evicted() {
      return evicted;
    },
  };
}
