-- Roles and databases of the local stack (run by stack.sh as postgres, in database postgres).
-- Idempotent: it converges an existing cluster to this state. Passwords equal role names: this cluster
-- listens on loopback only and holds synthetic data; never reuse these roles anywhere else.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

DO $roles$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT * FROM (VALUES
      -- a human DBA: can create roles and read everything, like most production DBAs
      ('dba_alice',       'LOGIN CREATEROLE NOSUPERUSER NOREPLICATION'),
      -- an external contractor with read access to the application tables
      ('contractor_bob',  'LOGIN NOCREATEROLE NOSUPERUSER NOREPLICATION'),
      -- the application's service account
      ('app_backend',     'LOGIN NOCREATEROLE NOSUPERUSER NOREPLICATION'),
      -- a generic shared superuser account, the kind Vigie must flag
      ('admin',           'LOGIN SUPERUSER'),
      -- Vigie's collectors: logical replication and statistics, owns nothing
      ('vigie_collector', 'LOGIN REPLICATION NOCREATEROLE NOSUPERUSER'),
      -- Vigie's alert store: the owner, through which migrations run …
      ('vigie',           'LOGIN NOCREATEROLE NOSUPERUSER NOREPLICATION'),
      -- … and the detector's runtime role: SELECT/INSERT/UPDATE on the store tables, granted by the migrations
      ('vigie_detector',  'LOGIN NOCREATEROLE NOSUPERUSER NOREPLICATION'),
      -- Vigie's responder (`vigie respond`): ends a session's backend and locks a login for a while. CREATEROLE
      -- can alter non-superuser roles only (PostgreSQL 15); it owns nothing and reads no table
      ('vigie_responder', 'LOGIN CREATEROLE NOSUPERUSER NOREPLICATION')
    ) AS v(name, attrs)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
      EXECUTE format('CREATE ROLE %I', r.name);
    END IF;
    EXECUTE format('ALTER ROLE %I %s PASSWORD %L', r.name, r.attrs, r.name);
  END LOOP;
END
$roles$;

GRANT pg_read_all_data TO dba_alice;
-- pg_stat_activity shows other sessions' client fields only to these
GRANT pg_read_all_stats TO dba_alice;
GRANT pg_monitor, pg_read_all_stats TO vigie_collector;
-- pg_signal_backend: pg_terminate_backend() of non-superuser backends; pg_read_all_stats: backend_start of other
-- roles' sessions, so the responder ends the alert's session and not a later one that reused its pid
GRANT pg_signal_backend, pg_read_all_stats TO vigie_responder;

SELECT 'CREATE DATABASE vigie OWNER vigie'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'vigie') \gexec
ALTER DATABASE vigie OWNER TO vigie;

-- The alert store is audited like any other database: whoever edits the evidence (a DBA, a superuser) leaves an
-- audit record. The detector's own writes are audited too (its login is one of Vigie's announced identities in
-- the policy, so they raise nothing); their bound parameters are whole alerts, kept out of the server log.
ALTER DATABASE vigie RESET pgaudit.log;
ALTER ROLE vigie_detector SET pgaudit.log_parameter = off;
-- Vigie's collector account is audited like any other: a stolen collector password must leave a trace. The
-- detector knows the collectors' own sessions from their heartbeats (vigie-account-misuse rule). RESET converges
-- clusters made when this file still turned auditing off for it.
ALTER ROLE vigie_collector RESET pgaudit.log;

\connect vigie
-- Object names in DDL audit records, as in every audited database.
CREATE EXTENSION IF NOT EXISTS pgaudit;
