import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Alert } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { MIGRATIONS, RUNTIME_GRANTS, type Migration } from './migrations.js';
import { responseQueries, type ResponseStore } from './response-store.js';
import { DETECTOR_ERRORS } from '../../errors.js';

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

/** One published revision of an alert, as the evidence page lists them. */
export interface AlertRevision {
  revision: number;
  severity: string;
  status: string;
  lastSeen: string;
  summary: string;
  storedAt: string;
}

/**
 * The opaque reference of an alert in evidence-page URLs: the first 128 bits of the id's SHA-256, in hex. Ids can
 * hold a role name; URLs must not. The store computes the same value in SQL (migration 4).
 */
export function alertRef(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 32);
}

/** Filters of {@link AlertStore.listAlerts}; every field narrows the result. */
export interface AlertFilter {
  rule?: string;
  severity?: string;
  status?: 'firing' | 'resolved';
  /** Alerts last seen at or after this instant. */
  since?: Date;
  /** Alerts first seen at or before this instant. */
  until?: Date;
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

/** A login role as one catalog read listed it (feeds `role_catalog`). */
export interface CatalogListing {
  role: string;
  /** `rolvaliduntil`, ISO, when set. */
  validUntil?: string | undefined;
}

/** What the store remembers of a cluster's roles: last activity and catalog listings. */
export interface StoredRoleHistory {
  lastSeen: { cluster: string; role: string; ts: string }[];
  catalog: { cluster: string; role: string; firstListed: string; validUntil?: string }[];
}

/** A role one of Vigie's components announced it connects as (feeds `vigie_accounts`). */
export interface VigieAccountSeen {
  cluster: string;
  role: string;
  /** Time of the announcing heartbeat. */
  ts: string;
}

/**
 * The PostgreSQL evidence store. Every write of the pipeline is idempotent, so a replayed batch changes nothing;
 * the response trail ({@link ResponseStore}) records requests as they come.
 */
export interface AlertStore extends ResponseStore {
  /**
   * With a migration connection: applies the missing migrations and the runtime role's grants (transaction +
   * advisory lock, so two detectors starting together are safe) and returns the versions applied. Without one:
   * checks that the schema is current (throws VIGIE_STORE_MIGRATION_PENDING) and returns [].
   */
  migrate(): Promise<number[]>;
  /**
   * What the runtime connection's role may do beyond {@link RUNTIME_GRANTS} (own or delete the evidence, alter
   * the schema, be a superuser), one phrase each; empty when it is limited as it should be.
   */
  runtimePrivilegeProblems(): Promise<string[]>;
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
  /** The alert whose {@link alertRef} this is (evidence pages). */
  getAlertByRef(ref: string): Promise<StoredAlert | undefined>;
  /** The published revisions of an alert, oldest first. */
  alertRevisions(id: string): Promise<AlertRevision[]>;
  /** Records an acknowledgement; undefined when the alert does not exist. */
  ack(id: string, by: string, comment?: string): Promise<StoredAlert | undefined>;
  appendTimeline(entries: readonly TimelineEntry[]): Promise<void>;
  sessionTimeline(cluster: string, sessionId: string, limit: number): Promise<TimelineEntry[]>;
  touchRoles(seen: readonly RoleSeen[]): Promise<void>;
  /** Records roles Vigie's components announced (newest announcement kept). */
  touchVigieAccounts(seen: readonly VigieAccountSeen[]): Promise<void>;
  /** Roles announced since an instant (reloaded into the engine at startup). */
  loadVigieAccounts(since: Date): Promise<VigieAccountSeen[]>;
  /** Records one catalog read of a cluster's login roles (first listing kept, expiry updated). */
  recordCatalogRoles(cluster: string, roles: readonly CatalogListing[]): Promise<void>;
  /** Every role's last activity and catalog listing (loaded into the engine at startup and after catalog reads). */
  loadRoleHistory(): Promise<StoredRoleHistory>;
  /** Deletes timeline events older than an instant; returns how many. */
  pruneTimeline(olderThan: Date): Promise<number>;
  /** A cheap round trip, for readiness and tests. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createAlertStore}. */
export interface AlertStoreOptions {
  /** The runtime role's connection: everything but migrations goes through it. */
  connectionString: string;
  /** The schema owner's connection, used only by {@link AlertStore.migrate}; absent = check only. */
  migrationConnectionString?: string | undefined;
  /** Schema of the tables; created when missing. */
  schema?: string;
  maxConnections?: number;
  migrations?: readonly Migration[];
  /** Sees the connection pool once created (the detector announces the store's sessions as Vigie's own). */
  observePool?: (pool: pg.Pool) => void;
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

/** The runtime connection's role; VIGIE_STORE_MIGRATION when it cannot log in. */
async function runtimeRoleOf(pool: pg.Pool, schema: string): Promise<string> {
  try {
    const { rows } = await pool.query<{ u: string }>('SELECT current_user AS u');
    return rows[0]?.u ?? '';
  } catch (cause) {
    throw new VigieError(
      DETECTOR_ERRORS.STORE_MIGRATION,
      `alert store: the runtime connection cannot log in (schema ${schema})`,
      {
        cause,
      },
    );
  }
}

/** Revokes everything from the runtime role on the store tables, then grants exactly {@link RUNTIME_GRANTS}. */
async function grantRuntime(client: pg.Client, schema: string, role: string): Promise<void> {
  const who = client.escapeIdentifier(role);
  await client.query(`GRANT USAGE ON SCHEMA ${schema} TO ${who}`);
  for (const [table, privileges] of Object.entries(RUNTIME_GRANTS)) {
    await client.query(`REVOKE ALL ON ${schema}.${table} FROM ${who}`);
    await client.query(`GRANT ${privileges.join(', ')} ON ${schema}.${table} TO ${who}`);
  }
}

/** Without the owner's connection: the schema must already be at the last migration. */
async function checkCurrent(pool: pg.Pool, schema: string, migrations: readonly Migration[]): Promise<void> {
  let done: Set<number>;
  try {
    const { rows } = await pool.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    done = new Set(rows.map((r) => r.version));
  } catch (cause) {
    // 42P01: no schema_migrations yet (never migrated); 42501: the role may not read it (grants never applied).
    const sqlstate = (cause as { code?: unknown }).code;
    if (sqlstate !== '42P01' && sqlstate !== '3F000' && sqlstate !== '42501') {
      throw new VigieError(DETECTOR_ERRORS.STORE_MIGRATION, `alert store: cannot read schema ${schema}'s migrations`, {
        retriable: true,
        cause,
      });
    }
    done = new Set();
  }
  const pending = migrations.filter((m) => !done.has(m.version)).map((m) => m.version);
  if (pending.length > 0) {
    throw new VigieError(
      DETECTOR_ERRORS.STORE_MIGRATION_PENDING,
      `alert store: schema ${schema} lacks migration(s) ${pending.join(', ')}; apply them as the schema owner (\`vigie store-migrate --config <file>\` with store.migrationConnectionString, or set it for one start)`,
      { retriable: false },
    );
  }
}

function storeError(what: string, cause: unknown): VigieError {
  return new VigieError(DETECTOR_ERRORS.STORE_WRITE, `alert store: ${what} failed`, { retriable: true, cause });
}

/** Connects to the store (lazily: the pool opens connections on first use). */
export function createAlertStore({
  connectionString,
  migrationConnectionString,
  schema = 'public',
  maxConnections = 4,
  migrations = MIGRATIONS,
  observePool,
}: AlertStoreOptions): AlertStore {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new VigieError(DETECTOR_ERRORS.STORE_SCHEMA, `invalid store schema name ${JSON.stringify(schema)}`);
  }
  // search_path as a startup option: every pooled connection gets it before its first query, no race.
  const pool = new pg.Pool({ connectionString, max: maxConnections, options: `-c search_path=${schema}` });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  observePool?.(pool);

  // Every revision of the batch goes to the history ($2), the latest per id to the alert itself ($1).
  const upsertSql = `
WITH history AS (
  INSERT INTO alert_revisions (alert_id, revision, severity, status, last_seen, summary)
  SELECT a->>'id', (a->>'revision')::integer, a->>'severity', a->>'status', (a->>'lastSeen')::timestamptz,
         a->>'summary'
  FROM jsonb_array_elements($2::jsonb) AS a
  ON CONFLICT DO NOTHING
)
INSERT INTO alerts (id, rule, severity, status, cluster, database, session_id, login, effective_role, client_addr,
                    client_class, first_seen, last_seen, revision, body, ref)
SELECT a->>'id', a->>'rule', a->>'severity', a->>'status', a->>'cluster', a->>'database', a->>'sessionId',
       a->'who'->>'login', a->'who'->>'effectiveRole', a->'where'->>'clientAddr', a->'where'->>'clientClass',
       (a->>'firstSeen')::timestamptz, (a->>'lastSeen')::timestamptz, (a->>'revision')::integer, a,
       substr(encode(sha256(convert_to(a->>'id', 'UTF8')), 'hex'), 1, 32)
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
    ...responseQueries(pool),

    async migrate() {
      const ordered = [...migrations].sort((a, b) => a.version - b.version);
      if (migrationConnectionString === undefined) {
        await checkCurrent(pool, schema, ordered);
        return [];
      }
      // The runtime role is whoever the runtime connection logs in as: the grants follow the configuration.
      const runtimeRole = await runtimeRoleOf(pool, schema);
      const client = new pg.Client({ connectionString: migrationConnectionString });
      client.on('error', () => undefined);
      const applied: number[] = [];
      try {
        await client.connect();
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
        for (const m of ordered) {
          if (done.has(m.version)) continue;
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          applied.push(m.version);
        }
        const owner = (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u;
        if (runtimeRole !== owner) await grantRuntime(client, schema, runtimeRole);
        await client.query('COMMIT');
        return applied;
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new VigieError(DETECTOR_ERRORS.STORE_MIGRATION, `alert store: migrations on schema ${schema} failed`, {
          retriable: false,
          cause,
        });
      } finally {
        await client.end().catch(() => undefined);
      }
    },

    async runtimePrivilegeProblems() {
      const me = await pool.query<{ superuser: boolean; create: boolean }>(
        `SELECT rolsuper AS superuser, has_schema_privilege(current_user, $1, 'CREATE') AS create
         FROM pg_roles WHERE rolname = current_user`,
        [schema],
      );
      const tables = await pool.query<{ relname: string; owner: boolean; privileges: string[] }>(
        `SELECT c.relname, pg_has_role(current_user, c.relowner, 'USAGE') AS owner,
                ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                                                 'TRIGGER']) AS p
                      WHERE has_table_privilege(current_user, c.oid, p)) AS privileges
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
        [schema],
      );
      const problems: string[] = [];
      if (me.rows[0]?.superuser) problems.push('is a superuser');
      if (me.rows[0]?.create) problems.push(`may CREATE in schema ${schema}`);
      for (const t of tables.rows) {
        if (t.owner) problems.push(`owns table ${t.relname} (may DROP or ALTER it)`);
        const allowed: readonly string[] = RUNTIME_GRANTS[t.relname] ?? [];
        const extra = t.privileges.filter((p) => !allowed.includes(p));
        if (extra.length > 0) problems.push(`has ${extra.join(', ')} on ${t.relname}`);
      }
      return problems;
    },

    async upsertAlerts(alerts) {
      if (alerts.length === 0) return;
      try {
        await pool.query(upsertSql, [JSON.stringify(latestPerId(alerts)), JSON.stringify(alerts)]);
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
      if (filter.until !== undefined) add((p) => `first_seen <= ${p}`, filter.until);
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

    async getAlertByRef(ref) {
      if (!/^[0-9a-f]{32}$/.test(ref)) return undefined;
      const { rows } = await pool.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE ref = $1 LIMIT 1`, [ref]);
      return rows[0] ? toStored(rows[0]) : undefined;
    },

    async alertRevisions(id) {
      const { rows } = await pool.query<{
        revision: number;
        severity: string;
        status: string;
        last_seen: Date;
        summary: string;
        stored_at: Date;
      }>(
        `SELECT revision, severity, status, last_seen, summary, stored_at FROM alert_revisions WHERE alert_id = $1
         ORDER BY revision`,
        [id],
      );
      return rows.map((r) => ({
        revision: r.revision,
        severity: r.severity,
        status: r.status,
        lastSeen: r.last_seen.toISOString(),
        summary: r.summary,
        storedAt: r.stored_at.toISOString(),
      }));
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

    async touchVigieAccounts(seen) {
      if (seen.length === 0) return;
      const latest = new Map<string, VigieAccountSeen>();
      for (const s of seen) {
        const key = `${s.cluster}\u0000${s.role}`;
        const prev = latest.get(key);
        if (!prev || s.ts >= prev.ts) latest.set(key, s);
      }
      try {
        await pool.query(
          `INSERT INTO vigie_accounts (cluster, role, last_announced)
           SELECT r->>'cluster', r->>'role', (r->>'ts')::timestamptz FROM jsonb_array_elements($1::jsonb) AS r
           ON CONFLICT (cluster, role) DO UPDATE SET last_announced = excluded.last_announced
           WHERE excluded.last_announced > vigie_accounts.last_announced`,
          [JSON.stringify([...latest.values()])],
        );
      } catch (cause) {
        throw storeError('vigie accounts upsert', cause);
      }
    },

    async loadVigieAccounts(since) {
      const { rows } = await pool.query<{ cluster: string; role: string; last_announced: Date }>(
        'SELECT cluster, role, last_announced FROM vigie_accounts WHERE last_announced >= $1 ORDER BY cluster, role',
        [since],
      );
      return rows.map((r) => ({ cluster: r.cluster, role: r.role, ts: r.last_announced.toISOString() }));
    },

    async recordCatalogRoles(cluster, roles) {
      if (roles.length === 0) return;
      try {
        // now(): the database server's clock, the one the events' timestamps come from.
        await pool.query(
          `INSERT INTO role_catalog (cluster, role, first_listed, last_listed, valid_until)
           SELECT $1, r->>'role', now(), now(), (r->>'validUntil')::timestamptz
           FROM jsonb_array_elements($2::jsonb) AS r
           ON CONFLICT (cluster, role) DO UPDATE SET last_listed = excluded.last_listed,
             valid_until = excluded.valid_until`,
          [cluster, JSON.stringify(roles)],
        );
      } catch (cause) {
        throw storeError('role catalog upsert', cause);
      }
    },

    async loadRoleHistory() {
      const [seen, listed] = await Promise.all([
        pool.query<{ cluster: string; role: string; last_seen: Date }>(
          'SELECT cluster, role, last_seen FROM role_last_seen',
        ),
        pool.query<{ cluster: string; role: string; first_listed: Date; valid_until: Date | null }>(
          'SELECT cluster, role, first_listed, valid_until FROM role_catalog',
        ),
      ]);
      return {
        lastSeen: seen.rows.map((r) => ({ cluster: r.cluster, role: r.role, ts: r.last_seen.toISOString() })),
        catalog: listed.rows.map((r) => ({
          cluster: r.cluster,
          role: r.role,
          firstListed: r.first_listed.toISOString(),
          ...(r.valid_until !== null && { validUntil: r.valid_until.toISOString() }),
        })),
      };
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
