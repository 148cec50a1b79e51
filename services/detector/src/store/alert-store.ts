import pg from 'pg';
import type { Alert } from '@vigie/contract';
import { VigieError } from '@vigie/runtime';
import { MIGRATIONS, type Migration } from './migrations.js';

/** Who acknowledged an alert, when, and why. */
export interface AlertAck {
  at: string;
  by: string;
  comment?: string;
}

/** An alert as the store keeps it: the published alert plus what humans did with it. */
export interface StoredAlert {
  alert: Alert;
  ack?: AlertAck;
  updatedAt: string;
}

/** Filters of {@link AlertStore.listAlerts}; every field narrows the result. */
export interface AlertFilter {
  rule?: string;
  severity?: string;
  status?: 'firing' | 'resolved';
  /** Alerts last seen at or after this instant. */
  since?: Date;
  /** Login or effective role. */
  role?: string;
  cluster?: string;
  limit?: number;
}

/** One redacted event of a session's timeline. */
export interface TimelineEntry {
  cluster: string;
  sessionId: string;
  eventId: string;
  ts: string;
  kind: string;
  body: Record<string, unknown>;
}

/** A role seen active: feeds `role_last_seen`. */
export interface RoleSeen {
  cluster: string;
  role: string;
  ts: string;
  clientAddr?: string;
}

/** The PostgreSQL evidence store. Every write is idempotent, so a replayed batch changes nothing. */
export interface AlertStore {
  /** Applies the missing migrations (transaction + advisory lock, so two detectors starting together are safe). */
  migrate(): Promise<number[]>;
  /** Inserts or updates alerts by id; an older revision never overwrites a newer one. */
  upsertAlerts(alerts: readonly Alert[]): Promise<void>;
  /**
   * Keeps the latest state of alerts whose change the detector held back (no new revision): stored beside the
   * published body, never replacing it, and dropped by the next revision. Alerts without a row are skipped.
   */
  savePending(alerts: readonly Alert[]): Promise<void>;
  /** Alerts still firing, in their latest state (pending if any; restored into the engine at startup). */
  loadFiring(cluster?: string): Promise<Alert[]>;
  /** Alerts resolved since an instant (re-pushed to Alertmanager at startup in case the push was lost). */
  loadResolvedSince(since: Date, cluster?: string): Promise<Alert[]>;
  listAlerts(filter: AlertFilter): Promise<StoredAlert[]>;
  getAlert(id: string): Promise<StoredAlert | undefined>;
  /** Records an acknowledgement; undefined when the alert does not exist. */
  ack(id: string, by: string, comment?: string): Promise<StoredAlert | undefined>;
  appendTimeline(entries: readonly TimelineEntry[]): Promise<void>;
  sessionTimeline(cluster: string, sessionId: string, limit: number): Promise<TimelineEntry[]>;
  touchRoles(seen: readonly RoleSeen[]): Promise<void>;
  /** Deletes timeline events older than an instant; returns how many. */
  pruneTimeline(olderThan: Date): Promise<number>;
  /** A cheap round trip, for readiness and tests. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createAlertStore}. */
export interface AlertStoreOptions {
  connectionString: string;
  /** Schema of the tables; created when missing. */
  schema?: string;
  maxConnections?: number;
  migrations?: readonly Migration[];
}

const ALERT_COLUMNS = `body, acked_at, acked_by, ack_comment, updated_at`;

interface AlertRow {
  body: Alert;
  acked_at: Date | null;
  acked_by: string | null;
  ack_comment: string | null;
  updated_at: Date;
}

function toStored(row: AlertRow): StoredAlert {
  const stored: StoredAlert = { alert: row.body, updatedAt: row.updated_at.toISOString() };
  if (row.acked_at && row.acked_by !== null) {
    stored.ack = {
      at: row.acked_at.toISOString(),
      by: row.acked_by,
      ...(row.ack_comment !== null ? { comment: row.ack_comment } : {}),
    };
  }
  return stored;
}

/** Keeps one state per alert id (the highest revision, the later one on a tie): ON CONFLICT may touch a row once. */
export function latestPerId(alerts: readonly Alert[]): Alert[] {
  const byId = new Map<string, Alert>();
  for (const a of alerts) {
    const prev = byId.get(a.id);
    if (!prev || a.revision >= prev.revision) byId.set(a.id, a);
  }
  return [...byId.values()];
}

function storeError(what: string, cause: unknown): VigieError {
  return new VigieError('VIGIE_STORE_WRITE', `alert store: ${what} failed`, { retriable: true, cause });
}

/** Connects to the store (lazily: the pool opens connections on first use). */
export function createAlertStore({
  connectionString,
  schema = 'public',
  maxConnections = 4,
  migrations = MIGRATIONS,
}: AlertStoreOptions): AlertStore {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new VigieError('VIGIE_STORE_SCHEMA', `invalid store schema name ${JSON.stringify(schema)}`);
  }
  // search_path as a startup option: every pooled connection gets it before its first query, no race.
  const pool = new pg.Pool({ connectionString, max: maxConnections, options: `-c search_path=${schema}` });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);

  const upsertSql = `
INSERT INTO alerts (id, rule, severity, status, cluster, database, session_id, login, effective_role, client_addr,
                    client_class, first_seen, last_seen, revision, body)
SELECT a->>'id', a->>'rule', a->>'severity', a->>'status', a->>'cluster', a->>'database', a->>'sessionId',
       a->'who'->>'login', a->'who'->>'effectiveRole', a->'where'->>'clientAddr', a->'where'->>'clientClass',
       (a->>'firstSeen')::timestamptz, (a->>'lastSeen')::timestamptz, (a->>'revision')::integer, a
FROM jsonb_array_elements($1::jsonb) AS a
ON CONFLICT (id) DO UPDATE SET
  rule = excluded.rule, severity = excluded.severity, status = excluded.status, cluster = excluded.cluster,
  database = excluded.database, session_id = excluded.session_id, login = excluded.login,
  effective_role = excluded.effective_role, client_addr = excluded.client_addr, client_class = excluded.client_class,
  first_seen = LEAST(alerts.first_seen, excluded.first_seen), last_seen = GREATEST(alerts.last_seen, excluded.last_seen),
  revision = excluded.revision, body = excluded.body, updated_at = now(),
  pending = CASE WHEN excluded.revision > alerts.revision THEN NULL ELSE alerts.pending END
WHERE excluded.revision >= alerts.revision`;

  // A held-back state carries the revision it follows: it applies while that is still the row's revision.
  const pendingSql = `
UPDATE alerts SET pending = p.a
FROM (SELECT a FROM jsonb_array_elements($1::jsonb) AS a) AS p
WHERE alerts.id = p.a->>'id' AND alerts.revision = (p.a->>'revision')::integer`;

  return {
    async migrate() {
      const client = await pool.connect();
      const applied: number[] = [];
      try {
        await client.query('BEGIN');
        // One lock per schema: two detectors starting at once apply each migration exactly once.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`vigie-store-migrations:${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await client.query(`SET LOCAL search_path TO ${schema}`);
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        const done = new Set(
          (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
        );
        for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
          if (done.has(m.version)) continue;
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          applied.push(m.version);
        }
        await client.query('COMMIT');
        return applied;
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new VigieError('VIGIE_STORE_MIGRATION', `alert store: migrations on schema ${schema} failed`, {
          retriable: false,
          cause,
        });
      } finally {
        client.release();
      }
    },

    async upsertAlerts(alerts) {
      if (alerts.length === 0) return;
      try {
        await pool.query(upsertSql, [JSON.stringify(latestPerId(alerts))]);
      } catch (cause) {
        throw storeError('alert upsert', cause);
      }
    },

    async savePending(alerts) {
      if (alerts.length === 0) return;
      try {
        await pool.query(pendingSql, [JSON.stringify(latestPerId(alerts))]);
      } catch (cause) {
        throw storeError('pending alert save', cause);
      }
    },

    async loadFiring(cluster) {
      const { rows } = await pool.query<{ body: Alert }>(
        `SELECT COALESCE(pending, body) AS body FROM alerts WHERE status = 'firing' AND ($1::text IS NULL OR cluster = $1)
         ORDER BY first_seen`,
        [cluster ?? null],
      );
      return rows.map((r) => r.body);
    },

    async loadResolvedSince(since, cluster) {
      const { rows } = await pool.query<{ body: Alert }>(
        `SELECT body FROM alerts WHERE status = 'resolved' AND updated_at >= $1
           AND ($2::text IS NULL OR cluster = $2) ORDER BY first_seen`,
        [since, cluster ?? null],
      );
      return rows.map((r) => r.body);
    },

    async listAlerts(filter) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (clause: (p: string) => string, value: unknown) => {
        params.push(value);
        where.push(clause(`$${params.length}`));
      };
      if (filter.rule !== undefined) add((p) => `rule = ${p}`, filter.rule);
      if (filter.severity !== undefined) add((p) => `severity = ${p}`, filter.severity);
      if (filter.status !== undefined) add((p) => `status = ${p}`, filter.status);
      if (filter.since !== undefined) add((p) => `last_seen >= ${p}`, filter.since);
      if (filter.role !== undefined) add((p) => `(login = ${p} OR effective_role = ${p})`, filter.role);
      if (filter.cluster !== undefined) add((p) => `cluster = ${p}`, filter.cluster);
      params.push(filter.limit ?? 100);
      const { rows } = await pool.query<AlertRow>(
        `SELECT ${ALERT_COLUMNS} FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY last_seen DESC, id LIMIT $${params.length}`,
        params,
      );
      return rows.map(toStored);
    },

    async getAlert(id) {
      const { rows } = await pool.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1`, [id]);
      return rows[0] ? toStored(rows[0]) : undefined;
    },

    async ack(id, by, comment) {
      const { rows } = await pool.query<AlertRow>(
        `UPDATE alerts SET acked_at = now(), acked_by = $2, ack_comment = $3 WHERE id = $1 RETURNING ${ALERT_COLUMNS}`,
        [id, by, comment ?? null],
      );
      return rows[0] ? toStored(rows[0]) : undefined;
    },

    async appendTimeline(entries) {
      if (entries.length === 0) return;
      try {
        await pool.query(
          `INSERT INTO session_events (cluster, session_id, event_id, ts, kind, body)
           SELECT e->>'cluster', e->>'sessionId', e->>'eventId', (e->>'ts')::timestamptz, e->>'kind', e->'body'
           FROM jsonb_array_elements($1::jsonb) AS e
           ON CONFLICT DO NOTHING`,
          [JSON.stringify(entries)],
        );
      } catch (cause) {
        throw storeError('timeline append', cause);
      }
    },

    async sessionTimeline(cluster, sessionId, limit) {
      const { rows } = await pool.query<{ event_id: string; ts: Date; kind: string; body: Record<string, unknown> }>(
        `SELECT event_id, ts, kind, body FROM session_events WHERE cluster = $1 AND session_id = $2
         ORDER BY ts, event_id LIMIT $3`,
        [cluster, sessionId, limit],
      );
      return rows.map((r) => ({
        cluster,
        sessionId,
        eventId: r.event_id,
        ts: r.ts.toISOString(),
        kind: r.kind,
        body: r.body,
      }));
    },

    async touchRoles(seen) {
      if (seen.length === 0) return;
      // One row per (cluster, role): ON CONFLICT may touch a row once per statement.
      const latest = new Map<string, RoleSeen>();
      for (const s of seen) {
        const key = `${s.cluster}\u0000${s.role}`;
        const prev = latest.get(key);
        if (!prev || s.ts >= prev.ts) latest.set(key, s);
      }
      try {
        await pool.query(
          `INSERT INTO role_last_seen (cluster, role, last_seen, last_client_addr)
           SELECT r->>'cluster', r->>'role', (r->>'ts')::timestamptz, r->>'clientAddr'
           FROM jsonb_array_elements($1::jsonb) AS r
           ON CONFLICT (cluster, role) DO UPDATE SET last_seen = excluded.last_seen,
             last_client_addr = COALESCE(excluded.last_client_addr, role_last_seen.last_client_addr)
           WHERE excluded.last_seen >= role_last_seen.last_seen`,
          [JSON.stringify([...latest.values()])],
        );
      } catch (cause) {
        throw storeError('role last-seen upsert', cause);
      }
    },

    async pruneTimeline(olderThan) {
      const result = await pool.query('DELETE FROM session_events WHERE ts < $1', [olderThan]);
      return result.rowCount ?? 0;
    },

    async ping() {
      await pool.query('SELECT 1');
    },

    async close() {
      await pool.end();
    },
  };
}
