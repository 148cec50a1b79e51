import type { Alert, CollectorIdentity, CollectorName, VigieEvent } from '@vigie/contract';
import type { CompiledPolicy } from '@vigie/policy';
import type { RevisionPolicy } from './alert-book.js';
import type { RuleSet } from './rule-api.js';

/** Tells whether a role is privileged (catalog: superuser, CREATEROLE, REPLICATION, BYPASSRLS, pg_read_all_data…; plus the policy's list). */
export interface PrivilegedRoles {
  isPrivileged(cluster: string, role: string): boolean;
}

/** What the cluster's catalog says about a login role (refreshed with the privileged roles). */
export interface CatalogRole {
  /** The first time Vigie saw the catalog list the role: PostgreSQL keeps no creation time, this is the proxy. */
  firstListedMs: number;
  /** `rolvaliduntil` (password expiry), when set. */
  validUntilMs?: number | undefined;
}

/**
 * What Vigie remembered about roles before this engine started: when each was last active (store
 * `role_last_seen`), what the catalog listed and since when (store `role_catalog`). Dormant-account detection
 * reads it; the live engine adds what it sees.
 */
export interface RoleHistory {
  /** Last activity of a role (ms), if Vigie ever saw it. */
  lastSeen(cluster: string, role: string): number | undefined;
  /** The catalog's facts about a role, if the catalog was read and listed it. */
  catalog(cluster: string, role: string): CatalogRole | undefined;
  /** When Vigie's memory of the cluster's roles begins (first catalog read or first activity), if it has any. */
  since(cluster: string): number | undefined;
}

/** A role history that knows nothing (replays without `--pg`, tests). */
export const NO_ROLE_HISTORY: RoleHistory = {
  lastSeen: () => undefined,
  catalog: () => undefined,
  since: () => undefined,
};

/** A collector that must be running: its silence is an alert even if it never sent a heartbeat. */
export interface ExpectedCollector {
  cluster: string;
  collector: CollectorName;
  /** Any instance of that collector when absent. */
  instance?: string | undefined;
}

/** What the engine needs; everything is already loaded and validated. */
export interface EngineOptions {
  policy: CompiledPolicy;
  privileged: PrivilegedRoles;
  /** Rules (shipped + site overrides) already validated and compiled: what `loadRules` (rules/load.ts) returns. */
  rules: RuleSet;
  /** Bounds of per-session state. */
  maxSessions?: number;
  /** A session with no event for this long is evicted (ended sessions go sooner). */
  idleSessionMs?: number;
  /** Bound of the transaction-id → session join (write statements ↔ WAL `change.txn`), most recent kept. */
  maxTransactions?: number;
  /** Collectors listed in the detector's configuration (reported when silent, even if they never started). */
  expectedCollectors?: readonly ExpectedCollector[];
  /**
   * Whether Vigie's components announce their sessions to this engine (heartbeats, the detector's own pools).
   * A replay of server logs has no heartbeats: it cannot know which sessions were Vigie's own, so sessions of
   * Vigie's accounts are then judged only by what Vigie never does (personal data, dumps, base backups).
   */
  announcements?: boolean;
  /** What Vigie knew of the roles before (last seen, catalog); default: nothing (learning from scratch). */
  roleHistory?: RoleHistory;
  /** When an incident is re-published (see {@link RevisionPolicy}); defaults: counts 60 s, refresh 5 min. */
  revisions?: Partial<RevisionPolicy>;
  /**
   * Called (synchronously; the callee must not block) when a statement grants role attributes or role memberships
   * (`CREATE|ALTER ROLE … SUPERUSER`, `GRANT pg_read_all_data TO …`): the privileged roles read from the catalog
   * are out of date, whatever the rules make of the statement.
   */
  onPrivilegesChanged?: (cluster: string) => void;
}

/**
 * The rule engine: pure, synchronous, no I/O. It is fed events in partition order and returns the alerts it
 * raised or updated. Alert ids are deterministic (rule + entity + window) so a replayed event yields the same id
 * and an updated `revision`, never a second alert.
 */
export interface DetectorEngine {
  /**
   * Feeds one event; returns the alerts raised or updated by it (each a full, new revision). `arrivedMs` is the
   * detector's clock when it arrived (the live detector gives `Date.now()`); default: the event's own time (replay).
   */
  process(event: VigieEvent, arrivedMs?: number): Alert[];
  /**
   * Advances time (the detector's clock, ms; in a replay, event time): returns alerts that resolved; evicts idle and
   * ended sessions. Quiet time counts from each incident's last arrival on this clock, not from its event times,
   * which are stamped by the sources' clocks.
   */
  tick(nowMs: number): Alert[];
  /**
   * Reloads alerts still firing (from the store, after a restart) so that new events update them; their quiet
   * time starts at `nowMs` (the detector's clock; default: each alert's lastSeen). `replayedSinceMs`: the engine
   * was rebuilt from its input's events since then (see the alert book's `restore`).
   */
  restore(alerts: readonly Alert[], nowMs?: number, replayedSinceMs?: number): void;
  readonly stats: { sessionsTracked: number; sessionsEvicted: number };
  /** Ids of the rules it runs (for metrics that must exist before a rule's first alert). Optional for doubles. */
  readonly ruleIds?: readonly string[];
  /**
   * Emits every alert changed since its last emission (updates are bounded: see the engine README in index.ts),
   * e.g. before a graceful stop or at the end of a replay. Optional so that test doubles need not implement it.
   */
  flush?(): Alert[];
  /** Current state of every alert the engine holds (firing and recently resolved), e.g. for a replay's output. */
  alerts?(): Alert[];
  /**
   * Records sessions the detector itself holds (its store and catalog connections), as a collector's heartbeat
   * would: they are Vigie's own. Optional so that test doubles need not implement it.
   */
  announceOwn?(cluster: string, identities: readonly CollectorIdentity[], nowMs: number): void;
  /** Records roles Vigie's components announced before a restart (from the store), as their heartbeats did. */
  announceAccounts?(cluster: string, roles: readonly string[], tsMs: number): void;
  /**
   * Alerts changed since the last call whose change was held back (not a revision yet), at their last revision
   * number: the store keeps them so a crash loses no count. Optional for test doubles.
   */
  pending?(): Alert[];
  /**
   * Records a change made outside the rules (an active response) on an incident the engine holds and returns its
   * new revision; empty when the engine does not hold it (the caller revises the stored alert). Optional for test
   * doubles.
   */
  annotate?(id: string, mutate: (alert: Alert) => void): Alert[];
  /** Revisions emitted (key `rule\0reason`) and updates held back (key rule) since the engine was created. */
  revisionCounts?(): { readonly revisions: ReadonlyMap<string, number>; readonly held: ReadonlyMap<string, number> };
}
