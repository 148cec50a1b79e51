import type { CollectorIdentity } from '@vigie/contract';
import type { CompiledPolicy } from '@vigie/policy';

/**
 * What the engine knows of Vigie itself: the database sessions its components announced (heartbeats, the
 * detector's own pools) and, from them and the policy, which roles are Vigie's accounts.
 *
 * Why the session id, and nothing a user chooses. A session is Vigie's own only when a component announced its
 * exact session id — PostgreSQL's `hex(backend start).hex(pid)`, which the server writes into every log line and
 * which no client can set — under the same login role. `application_name` is chosen by the client and the client
 * address is shared by everything on the collector's host, so role + address + application would let anyone on
 * that host who holds the collector's password pass for Vigie; a session id cannot be borrowed by another
 * session. Announcements themselves come only from Vigie's Kafka producers (a heartbeat is never derived from a
 * log line: the log parser makes no heartbeat, and the engine takes one only without a session and a source
 * position), so a `RAISE LOG` that imitates a heartbeat announces nothing.
 */
export interface SelfKnowledge {
  /** False when no announcements can arrive (a replay of server logs). */
  readonly enabled: boolean;
  /** Records announced sessions (event time of the heartbeat, or now for the detector's own). */
  announce(cluster: string, identities: readonly CollectorIdentity[], tsMs: number): void;
  /** Records roles a component says it connects as: their sessions are Vigie's own or misuse. */
  announceAccounts(cluster: string, roles: readonly string[], tsMs: number): void;
  /** Whether `<cluster>/<session id>` was announced with this login role. */
  isOwn(sessionKey: string, login: string | undefined): boolean;
  /**
   * Whether the role is one of Vigie's accounts: listed in the policy (`roles.vigie`) or announced as such (until
   * `prune` forgets an announcement older than the retention).
   */
  isVigieAccount(cluster: string, role: string): boolean;
  /** Grows whenever the set of announced accounts changes: an answer of `isVigieAccount` may be kept until then. */
  readonly generation: number;
  /** Forgets announcements older than the retention. */
  prune(nowMs: number): void;
}

/** Options of {@link createSelfKnowledge}. */
export interface SelfKnowledgeOptions {
  policy: CompiledPolicy;
  enabled?: boolean;
  /**
   * How long an announced session stays known after its last announcement. Components re-announce held sessions
   * in every heartbeat and closed ones for minutes after, so this only bounds memory.
   */
  sessionRetainMs?: number;
  /** How long a role stays one of Vigie's accounts after it was last announced (collector down for a while). */
  accountRetainMs?: number;
  maxSessions?: number;
  maxAccounts?: number;
}

/** Creates the engine's knowledge of Vigie's own sessions (bounded, pruned on tick). */
export function createSelfKnowledge({
  policy,
  enabled = true,
  sessionRetainMs = 60 * 60_000,
  accountRetainMs = 24 * 60 * 60_000,
  maxSessions = 10_000,
  maxAccounts = 1_000,
}: SelfKnowledgeOptions): SelfKnowledge {
  // `<cluster>/<session id>` → login role and the time it was last announced.
  const sessions = new Map<string, { role: string; lastMs: number }>();
  // `<cluster>/<role>` → time a component last said it runs as this role.
  const accounts = new Map<string, number>();
  let generation = 0;
  const announceAccount = (key: string, tsMs: number) => {
    if (!accounts.has(key)) generation += 1;
    remember(accounts, key, Math.max(tsMs, accounts.get(key) ?? 0), maxAccounts);
  };

  const remember = <V>(map: Map<string, V>, key: string, value: V, max: number) => {
    map.delete(key);
    map.set(key, value);
    // Insertion order is announcement order: the first entry is the least recently announced.
    if (map.size > max) map.delete(map.keys().next().value as string);
  };

  return {
    enabled,
    announce(cluster, identities, tsMs) {
      if (!enabled) return;
      for (const i of identities) {
        const key = `${cluster}/${i.sessionId}`;
        const known = sessions.get(key);
        remember(sessions, key, { role: i.role, lastMs: Math.max(tsMs, known?.lastMs ?? 0) }, maxSessions);
        // A `setup` session (an administrator's role, used once) exempts that session only: the role stays
        // everyone else's, and its other sessions are watched like any operator's.
        if (i.account === 'vigie') announceAccount(`${cluster}/${i.role}`, tsMs);
      }
    },
    announceAccounts(cluster, roles, tsMs) {
      if (!enabled) return;
      for (const role of roles) announceAccount(`${cluster}/${role}`, tsMs);
    },
    isOwn(sessionKey, login) {
      const s = sessions.get(sessionKey);
      return s !== undefined && login !== undefined && s.role === login;
    },
    isVigieAccount(cluster, role) {
      return policy.isVigieAccount(role) || accounts.has(`${cluster}/${role}`);
    },
    get generation() {
      return generation;
    },
    prune(nowMs) {
      for (const [k, s] of sessions) if (nowMs - s.lastMs > sessionRetainMs) sessions.delete(k);
      for (const [k, last] of accounts) {
        if (nowMs - last > accountRetainMs) {
          accounts.delete(k);
          generation += 1;
        }
      }
    },
  };
}
