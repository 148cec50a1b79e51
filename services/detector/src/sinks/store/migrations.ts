/** One schema change of the alert store, applied once, in order, inside the migration transaction. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The store's migrations. Append only: an applied migration is never edited (a site's database already has it);
 * a change is a new entry with the next version.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'alerts, session timelines, role last-seen',
    sql: `
CREATE TABLE alerts (
  id             text PRIMARY KEY,
  rule           text NOT NULL,
  severity       text NOT NULL,
  status         text NOT NULL,
  cluster        text NOT NULL,
  database       text,
  session_id     text,
  login          text,
  effective_role text,
  client_addr    text,
  client_class   text NOT NULL,
  first_seen     timestamptz NOT NULL,
  last_seen      timestamptz NOT NULL,
  revision       integer NOT NULL,
  acked_at       timestamptz,
  acked_by       text,
  ack_comment    text,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  -- The whole alert as published on vigie.alerts.v1, evidence included.
  body           jsonb NOT NULL
);
CREATE INDEX alerts_last_seen_idx ON alerts (last_seen DESC);
CREATE INDEX alerts_firing_idx ON alerts (cluster) WHERE status = 'firing';
CREATE INDEX alerts_rule_idx ON alerts (rule, last_seen DESC);

-- Redacted timeline of the sessions that raised an alert (bounded per session, pruned by age).
CREATE TABLE session_events (
  cluster    text NOT NULL,
  session_id text NOT NULL,
  event_id   text NOT NULL,
  ts         timestamptz NOT NULL,
  kind       text NOT NULL,
  body       jsonb NOT NULL,
  PRIMARY KEY (cluster, session_id, event_id)
);
CREATE INDEX session_events_ts_idx ON session_events (ts);

-- When each role was last active and from where: input for first-seen / not-seen-for-N-days rules.
CREATE TABLE role_last_seen (
  cluster          text NOT NULL,
  role             text NOT NULL,
  last_seen        timestamptz NOT NULL,
  last_client_addr text,
  PRIMARY KEY (cluster, role)
);
`,
  },
  {
    version: 2,
    name: "Vigie's accounts announced by its components",
    sql: `
-- Roles Vigie's components said they connect as (heartbeats): after a restart the detector knows them before the
-- first heartbeat, so the sessions of these roles are Vigie's (announced) or misuse from the first event.
CREATE TABLE vigie_accounts (
  cluster        text NOT NULL,
  role           text NOT NULL,
  last_announced timestamptz NOT NULL,
  PRIMARY KEY (cluster, role)
);
`,
  },
  {
    version: 3,
    name: 'alert changes held back between revisions',
    sql: `
-- The latest state of a firing alert when the detector held its change back (not a revision yet): a restarted
-- detector continues from it, so a crash between two revisions loses no count. NULL once a revision carries it.
ALTER TABLE alerts ADD COLUMN pending jsonb;
`,
  },
  {
    version: 4,
    name: 'evidence page: opaque alert references and revision history',
    sql: `
-- Evidence-page URLs carry this reference, never the alert id: an id can hold a role name (bulk-read's
-- 'role/<name>' entity), and URLs end up in browser history, proxy logs and chat. The first 128 bits of the SHA-256
-- of the id's UTF-8 bytes (alertRef() in alert-store.ts computes the same), written by the upsert. Not a generated
-- column: convert_to() is only STABLE, and a text::bytea cast would parse backslashes in the id as escapes.
ALTER TABLE alerts ADD COLUMN ref text;
UPDATE alerts SET ref = substr(encode(sha256(convert_to(id, 'UTF8')), 'hex'), 1, 32);
CREATE INDEX alerts_ref_idx ON alerts (ref);

-- One row per published revision of an alert: what the evidence page lists as the alert's history.
CREATE TABLE alert_revisions (
  alert_id  text NOT NULL,
  revision  integer NOT NULL,
  severity  text NOT NULL,
  status    text NOT NULL,
  last_seen timestamptz NOT NULL,
  summary   text NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (alert_id, revision)
);
`,
  },
  {
    version: 5,
    name: 'active responses and role locks',
    sql: `
-- Every response asked for (vigie respond, the API, the policy's automatic responses, a lock's expiry) and its
-- result, dry runs included: the audit trail of what Vigie did, or was asked to do, to an account.
CREATE TABLE response_actions (
  id           text PRIMARY KEY,
  alert_id     text NOT NULL,
  cluster      text NOT NULL,
  role         text NOT NULL,
  action       text NOT NULL,
  mode         text NOT NULL,
  requested_by text NOT NULL,
  dry_run      boolean NOT NULL,
  result       text NOT NULL,
  at           timestamptz NOT NULL,
  body         jsonb NOT NULL
);
CREATE INDEX response_actions_alert_idx ON response_actions (alert_id, at);

-- Logins Vigie turned off (ALTER ROLE … NOLOGIN) and when it turns them back on: a restarted detector restores
-- the overdue ones at once and schedules the rest. released_at is set once LOGIN is back.
CREATE TABLE role_locks (
  cluster     text NOT NULL,
  role        text NOT NULL,
  alert_id    text NOT NULL,
  locked_at   timestamptz NOT NULL,
  until       timestamptz NOT NULL,
  released_at timestamptz,
  PRIMARY KEY (cluster, role)
);
`,
  },
  {
    version: 6,
    name: 'login roles as the catalog listed them',
    sql: `
-- Login roles of each monitored cluster as the detector's catalog reads listed them. PostgreSQL keeps no role
-- creation time: first_listed (the first read that listed the role, server clock) is the proxy that tells a role
-- created long ago and never seen from a new one. valid_until is rolvaliduntil at the last read.
CREATE TABLE role_catalog (
  cluster      text NOT NULL,
  role         text NOT NULL,
  first_listed timestamptz NOT NULL,
  last_listed  timestamptz NOT NULL,
  valid_until  timestamptz,
  PRIMARY KEY (cluster, role)
);
`,
  },
];

/**
 * What the detector's runtime role may do on each store table; the migration grants exactly this (after revoking
 * everything else) on every run. The evidence — alerts, and when each role was last seen — can be read, added and
 * updated (revisions, acknowledgements), never deleted, truncated or altered; timeline events are deleted by age
 * (`store.timelineRetentionDays`), which is the runtime's job. A new table needs its line here (a test checks).
 */
export const RUNTIME_GRANTS: Readonly<Record<string, readonly ('SELECT' | 'INSERT' | 'UPDATE' | 'DELETE')[]>> = {
  alerts: ['SELECT', 'INSERT', 'UPDATE'],
  role_last_seen: ['SELECT', 'INSERT', 'UPDATE'],
  session_events: ['SELECT', 'INSERT', 'DELETE'],
  // Announced accounts are upserted at each heartbeat, never deleted (old ones are ignored by date).
  vigie_accounts: ['SELECT', 'INSERT', 'UPDATE'],
  // History is appended, never rewritten.
  alert_revisions: ['SELECT', 'INSERT'],
  // The response trail is appended, never rewritten; a lock is extended or released, never deleted.
  response_actions: ['SELECT', 'INSERT'],
  role_locks: ['SELECT', 'INSERT', 'UPDATE'],
  // Listings are upserted at each catalog read, never deleted (first_listed is the evidence of a role's age).
  role_catalog: ['SELECT', 'INSERT', 'UPDATE'],
  // Read only: a detector without the owner's connection checks that the schema is current.
  schema_migrations: ['SELECT'],
};
