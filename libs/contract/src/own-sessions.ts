import { sessionIdOf } from './common.js';
import type { CollectorIdentity } from './heartbeat.js';

/**
 * Reads the calling session's identity as the server sees it. Any role may read its own `pg_stat_activity` row;
 * `host()` drops the `/32` that `client_addr::text` prints, and `backend_start` as epoch keeps the session id exact.
 * On a logical walsender connection (`replication=database`) the same query runs too.
 */
export const OWN_SESSION_SQL = `SELECT pid, extract(epoch FROM backend_start)::float8 AS backend_start,
  session_user::text AS role, application_name, coalesce(host(client_addr), 'local') AS client_addr,
  datname::text AS datname, backend_type
  FROM pg_stat_activity WHERE pid = pg_backend_pid()`;

/** A row of {@link OWN_SESSION_SQL} (or of `pg_stat_activity` with the same columns). */
export interface OwnSessionRow {
  pid: number;
  backend_start: number;
  role: string;
  application_name: string | null;
  client_addr: string | null;
  datname: string | null;
  backend_type: string | null;
}

/** The smallest query interface a `pg.Client` or a pooled client satisfies (keeps this library free of `pg`). */
export interface Queryable {
  query(sql: string): Promise<{ rows: unknown[] }>;
}

/** The identity of one `pg_stat_activity` row. */
export function identityOfRow(row: OwnSessionRow, account: CollectorIdentity['account'] = 'vigie'): CollectorIdentity {
  return {
    role: row.role,
    applicationName: (row.application_name ?? '').slice(0, 63),
    clientAddr: row.client_addr ?? 'local',
    replication: row.backend_type === 'walsender',
    ...(row.datname !== null && { database: row.datname }),
    pid: row.pid,
    sessionId: sessionIdOf(row.backend_start, row.pid),
    account,
  };
}

/** Reads the identity of the session `client` is connected with (one round trip). */
export async function readOwnSession(
  client: Queryable,
  account: CollectorIdentity['account'] = 'vigie',
): Promise<CollectorIdentity | undefined> {
  const row = (await client.query(OWN_SESSION_SQL)).rows[0] as OwnSessionRow | undefined;
  return row === undefined ? undefined : identityOfRow(row, account);
}

/** The sessions a component holds or held recently, for its heartbeats. */
export interface OwnSessions {
  /** Records a session as held now (a new one, or one seen again by a poll). */
  seen(identity: CollectorIdentity, nowMs?: number): void;
  /** Records that the component closed a session; it stays announced for the retention (late log lines). */
  ended(sessionId: string, nowMs?: number): void;
  /** What to announce now: held sessions and those ended or last seen within the retention, newest first. */
  list(nowMs?: number): CollectorIdentity[];
}

/**
 * Creates the register of a component's own sessions. A session that started and ended between two heartbeats is
 * still announced by the next ones (for `retainMs`), so the detector can recognise every one of its log lines.
 */
export function createOwnSessions({ retainMs = 5 * 60_000, max = 50 } = {}): OwnSessions {
  const sessions = new Map<string, { identity: CollectorIdentity; lastMs: number }>();
  const prune = (nowMs: number) => {
    for (const [id, s] of sessions) if (nowMs - s.lastMs > retainMs) sessions.delete(id);
    // Map order is insertion order and seen() re-inserts: the first entries are the least recently seen.
    while (sessions.size > max) sessions.delete(sessions.keys().next().value as string);
  };
  return {
    seen(identity, nowMs = Date.now()) {
      const { endedAt: _ended, ...live } = identity;
      sessions.delete(identity.sessionId);
      sessions.set(identity.sessionId, { identity: live, lastMs: nowMs });
      prune(nowMs);
    },
    ended(sessionId, nowMs = Date.now()) {
      const s = sessions.get(sessionId);
      if (s === undefined || s.identity.endedAt !== undefined) return;
      s.identity = { ...s.identity, endedAt: new Date(nowMs).toISOString() };
      s.lastMs = nowMs;
    },
    list(nowMs = Date.now()) {
      prune(nowMs);
      return [...sessions.values()].reverse().map((s) => s.identity);
    },
  };
}
