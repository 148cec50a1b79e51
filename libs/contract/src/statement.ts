import { z } from 'zod';
import { QueryId, envelope } from './common.js';

/** pgaudit statement classes as printed in the log. */
export const AuditClass = z.enum(['READ', 'WRITE', 'FUNCTION', 'ROLE', 'DDL', 'MISC']);

/** One object pgaudit named for a statement (one line per relation with `log_relation`). */
export const AuditObject = z.object({
  /** pgaudit object type: TABLE, VIEW, INDEX, SEQUENCE, FUNCTION, … */
  type: z.string(),
  /** Schema-qualified name as pgaudit printed it. */
  name: z.string(),
});

/**
 * A configuration parameter a statement sets or resets: `SET`/`RESET` (`session`, or `local` to the transaction),
 * `ALTER SYSTEM` (`system`), `ALTER ROLE|DATABASE … SET` (`role`, `database`), `ALTER|CREATE FUNCTION … SET`
 * (`function`), `set_config()`. The name is lower-cased; `all` for `RESET ALL`, `?` for a `set_config` whose name is
 * computed. Values never leave the collector.
 */
export const SettingChange = z.object({
  name: z.string(),
  scope: z.enum(['session', 'local', 'system', 'role', 'database', 'function']),
  reset: z.boolean().optional(),
});
export type SettingChange = z.infer<typeof SettingChange>;

/** Role attributes that let a role take or change any data (`CREATE|ALTER ROLE … SUPERUSER`…), lower-cased. */
export const RoleAttribute = z.enum(['superuser', 'createrole', 'replication', 'bypassrls']);
export type RoleAttribute = z.infer<typeof RoleAttribute>;

/**
 * A change of who may do what, from the parse tree (role names are identifiers, lower-cased unless quoted; a role
 * written `CURRENT_USER`, `SESSION_USER`, `CURRENT_ROLE` or `PUBLIC` is that word, lower-cased):
 * - `role-attributes`: `CREATE ROLE` (`created`) or `ALTER ROLE` granting these attributes (only those turned on);
 * - `grant-role`: `GRANT r TO g` or `CREATE ROLE g IN ROLE r` (membership of `roles` given to `grantees`);
 * - `owner-to`: `ALTER … OWNER TO owner` (`objectType` is the parser's, e.g. `table`, `function`, `schema`);
 * - `security-definer`: `CREATE|ALTER FUNCTION|PROCEDURE … SECURITY DEFINER` (`function`, qualified when written so);
 * - `set-role`: `SET [SESSION|LOCAL] ROLE role` or `SET SESSION AUTHORIZATION role`.
 */
export const PrivilegeChange = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('role-attributes'),
    role: z.string(),
    attributes: z.array(RoleAttribute),
    created: z.boolean(),
  }),
  z.object({ action: z.literal('grant-role'), roles: z.array(z.string()), grantees: z.array(z.string()) }),
  z.object({ action: z.literal('owner-to'), objectType: z.string(), owner: z.string() }),
  z.object({ action: z.literal('security-definer'), function: z.string() }),
  z.object({ action: z.literal('set-role'), role: z.string() }),
]);
export type PrivilegeChange = z.infer<typeof PrivilegeChange>;

/** What the real PostgreSQL parser says about a statement (libs/sql). */
export const SqlAnalysis = z.object({
  /** Top-level statement kind: select, insert, update, delete, copy, set, lock, begin, declare, fetch, ddl, … */
  kind: z.string(),
  /** Relations read, schema-qualified when the text qualifies them (`public.citizens`), lower-cased. */
  reads: z.array(z.string()),
  /** Relations written. */
  writes: z.array(z.string()),
  /** The top-level query has a WHERE clause. */
  hasWhere: z.boolean(),
  /** The top-level query has a LIMIT / FETCH FIRST. */
  hasLimit: z.boolean(),
  copy: z
    .object({
      direction: z.enum(['to', 'from']),
      target: z.enum(['stdout', 'stdin', 'file', 'program']),
      relation: z.string().optional(),
      /** The COPY has a query (`COPY (SELECT …) TO …`) rather than a relation. */
      hasQuery: z.boolean(),
    })
    .optional(),
  /** Functions called anywhere in the statement, lower-cased, schema-qualified when written so. */
  functions: z.array(z.string()),
  /** The subset of `functions` that reads or writes server files, large objects or remote servers. */
  dangerousFunctions: z.array(z.string()),
  /** Configuration the statement changes (absent when none). */
  settings: z.array(SettingChange).optional(),
  /** Extensions the statement drops, lower-cased (absent when none). */
  droppedExtensions: z.array(z.string()).optional(),
  /** libpg-query fingerprint: the same for the same statement shape with other literals. */
  fingerprint: z.string().optional(),
  /** The statement with every literal replaced by `$n`: the only statement text that leaves a collector. */
  redacted: z.string(),
  /** Set when the parser refused the statement; the event is still emitted, with `redacted` made by a scanner. */
  parseError: z.string().optional(),
  /** Changes of privileges the statement makes (absent when none). */
  privileges: z.array(PrivilegeChange).optional(),
  /**
   * Hosts named in connection strings or server options of `dblink*()` calls and `CREATE|ALTER SERVER … OPTIONS
   * (host …)` (a host only: never the rest of the string, which may hold a password); `?` when not a plain host name.
   */
  remoteHosts: z.array(z.string()).optional(),
  /**
   * Relations read through a query or a table name held in a string (`query_to_xml('SELECT … FROM t', …)`,
   * `table_to_xml('t', …)`), which the statement's own reads do not show; `?` when the string could not be read;
   * schema names as `schema.*` for `schema_to_xml`.
   */
  hiddenReads: z.array(z.string()).optional(),
  /**
   * The top-level SELECT reads one page of an ordered walk through a table: `LIMIT … OFFSET …` (`offset`), or a
   * range on its first ORDER BY column with a LIMIT (`WHERE id > $1 ORDER BY id LIMIT n`, `keyset`). Absent otherwise.
   */
  paging: z.enum(['offset', 'keyset']).optional(),
  /** The top-level SELECT returns only `count(…)` values, ungrouped: no column of any row (absent otherwise). */
  countOnly: z.boolean().optional(),
});
export type SqlAnalysis = z.infer<typeof SqlAnalysis>;

/**
 * One SQL statement as pgaudit logged it: the several lines pgaudit writes for one statement (per relation,
 * SESSION/OBJECT twins) merged into one event, rows counted once.
 */
export const StatementEvent = z.object({
  ...envelope,
  kind: z.literal('statement'),
  audit: z.object({
    /** SESSION, OBJECT, or both when twins were merged. */
    auditTypes: z.array(z.enum(['SESSION', 'OBJECT'])),
    statementId: z.number().int(),
    substatementId: z.number().int(),
    class: AuditClass,
    /** pgaudit command (`SELECT`, `COPY`, `SET`, `LOCK TABLE`, `???`). */
    command: z.string(),
    objects: z.array(AuditObject),
    /** Number of bound parameters (`pgaudit.log_parameter`); values never leave the collector. */
    parameterCount: z.number().int().nonnegative(),
    /** HMAC-SHA256 (hex, truncated) of each parameter value when the site configured a key: links equal values. */
    parameterHashes: z.array(z.string()).optional(),
    /** Rows returned/affected (`pgaudit.log_rows`); absent when not logged, unreliable for COPY in pgaudit 1.7. */
    rows: z.number().int().nonnegative().optional(),
  }),
  /** Role in effect when the statement ran (after `SET ROLE`); the login role is `session.user`. */
  effectiveRole: z.string().optional(),
  queryId: QueryId.optional(),
  /** Top-level transaction id from the log (`txid`), 0/absent when none was assigned: joins writes to WAL changes. */
  txid: z.string().optional(),
  sql: SqlAnalysis,
  /**
   * The log record was longer than the collector's record limit: this event was made from its head (audit fields
   * and the first kilobytes of the statement), so `sql` describes a cut statement and `audit.objects` may be
   * incomplete. Absent for whole records.
   */
  truncated: z.literal(true).optional(),
});
export type StatementEvent = z.infer<typeof StatementEvent>;
export type AuditObject = z.infer<typeof AuditObject>;
export type AuditClass = z.infer<typeof AuditClass>;
