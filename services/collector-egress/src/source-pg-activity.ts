import pg from 'pg';
import type { SessionInfo } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { peerKey } from './parse-ss.js';
import { sessionOfRow, type ActivityRow } from './session-row.js';
import type { SessionLookup } from './analyze-sockets.js';
import { EGRESS_ERRORS } from './errors.js';

/** How to reach PostgreSQL for pg_stat_activity. */
export interface PgSettings {
  host: string;
  port: number;
  user: string;
  password?: string | undefined;
  database: string;
}

// host() drops the /32 that client_addr::text would print; backend_start as epoch keeps the session id exact.
// `self` marks the collector's own session, which its heartbeats announce.
const SNAPSHOT_SQL = `SELECT pid, extract(epoch FROM backend_start)::float8 AS start, usename, datname,
  host(client_addr) AS addr, client_port, application_name, backend_type, pid = pg_backend_pid() AS self
  FROM pg_stat_activity WHERE backend_start IS NOT NULL AND client_port IS NOT NULL`;

interface RawRow {
  pid: number;
  start: number;
  usename: string | null;
  datname: string | null;
  addr: string | null;
  client_port: number | null;
  application_name: string | null;
  backend_type: string | null;
  self: boolean;
}

/** Reads pg_stat_activity through one pooled connection (the pool reconnects after a server restart). */
export interface ActivitySource {
  /** Every session with a client (TCP or Unix socket). Throws VIGIE_EGRESS_PG_QUERY (retriable). */
  snapshot(): Promise<ActivityRow[]>;
  /** Runs one query (startup checks). */
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** Creates the pg_stat_activity reader. */
export function createActivitySource(settings: PgSettings): ActivitySource {
  const pool = new pg.Pool({
    ...settings,
    max: 1,
    application_name: 'vigie-collector-egress',
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 0,
  });
  // An idle client dropped by the server emits on the pool; the next query reconnects.
  pool.on('error', () => undefined);
  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => {
    try {
      return (await pool.query<T>(sql, params)).rows;
    } catch (cause) {
      throw new VigieError(EGRESS_ERRORS.PG_QUERY, 'querying PostgreSQL failed', { retriable: true, cause });
    }
  };
  return {
    query,
    async snapshot() {
      const rows = await query<RawRow>(SNAPSHOT_SQL);
      return rows.map((r) => ({
        pid: r.pid,
        backendStartEpoch: r.start,
        user: r.usename,
        database: r.datname,
        clientAddr: r.addr,
        clientPort: r.client_port,
        applicationName: r.application_name,
        backendType: r.backend_type,
        ...(r.self && { self: true }),
      }));
    },
    close: () => pool.end(),
  };
}

/** Remembers sessions by client end (address, port), including ended ones for a while, for the close-event join. */
export interface SessionCache extends SessionLookup {
  /** Replaces the live view with a snapshot; sessions that left it stay joinable by client end for the retention. */
  update(rows: readonly ActivityRow[], nowMs: number): void;
  readonly size: number;
}

/** Creates the cache; `retentionMs` bounds how long an ended session stays joinable (and memory with it). */
export function createSessionCache(retentionMs: number): SessionCache {
  const byPeer = new Map<string, { session: SessionInfo; seenMs: number }>();
  return {
    update(rows, nowMs) {
      for (const row of rows) {
        const session = sessionOfRow(row);
        if (row.clientAddr && row.clientPort !== null && row.clientPort >= 0) {
          byPeer.set(peerKey(row.clientAddr, row.clientPort), { session, seenMs: nowMs });
        }
      }
      for (const [key, entry] of byPeer) if (nowMs - entry.seenMs > retentionMs) byPeer.delete(key);
    },
    byPeer: (addr, port) => byPeer.get(peerKey(addr, port))?.session,
    get size() {
      return byPeer.size;
    },
  };
}
