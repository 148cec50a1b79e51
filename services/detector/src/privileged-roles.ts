import type { CompiledPolicy } from '@vigie/policy';
import { VigieError, type ErrorCode } from '@vigie/errors';
import type { PrivilegedRoles } from './engine/types.js';
import { DETECTOR_ERRORS } from './errors.js';

/** The part of a `pg` Client or Pool the discovery needs. */
export interface Queryable {
  query<R extends Record<string, unknown>>(sql: string): Promise<{ rows: R[] }>;
}

/** Runs one catalog query; a failure is `code` (retriable: the next refresh tries again), saying what was read. */
export async function queryCatalog(
  db: Queryable,
  sql: string,
  code: ErrorCode,
  what: string,
): Promise<Array<Record<string, unknown>>> {
  try {
    return (await db.query(sql)).rows;
  } catch (cause) {
    throw new VigieError(code, `could not read ${what} from the catalog`, { retriable: true, cause });
  }
}

/** The predefined roles whose members can read, write or leave the database wholesale (PostgreSQL 15). */
export const PRIVILEGED_PREDEFINED_ROLES = [
  'pg_read_all_data',
  'pg_write_all_data',
  'pg_execute_server_program',
  'pg_read_server_files',
  'pg_write_server_files',
] as const;

/**
 * Roles that can log in and hold a privilege that lets them take or change any data: superuser, CREATEROLE,
 * REPLICATION, BYPASSRLS, or membership (direct or inherited, `pg_has_role … MEMBER` walks pg_auth_members) of
 * the predefined data roles. Roles that cannot log in are listed too: `SET ROLE` to them is the way in.
 */
export const PRIVILEGED_ROLES_SQL = `
SELECT r.rolname,
       r.rolsuper, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
       ARRAY(SELECT p FROM unnest(ARRAY[${PRIVILEGED_PREDEFINED_ROLES.map((p) => `'${p}'`).join(', ')}]::name[]) AS p
             WHERE pg_has_role(r.oid, p, 'MEMBER'))::text[] AS memberships
  FROM pg_catalog.pg_roles r
 WHERE r.rolname !~ '^pg_'
   AND (r.rolsuper OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls
        OR ${PRIVILEGED_PREDEFINED_ROLES.map((p) => `pg_has_role(r.oid, '${p}', 'MEMBER')`).join('\n        OR ')})
 ORDER BY r.rolname`;

// memberships is cast to text[]: node-postgres leaves a name[] as its '{…}' text form.

/** One privileged role and why. */
export interface PrivilegedRole {
  role: string;
  /** `superuser`, `createrole`, `replication`, `bypassrls`, or a predefined role name. */
  reasons: string[];
}

/** Queries a cluster's catalog for its privileged roles. Throws VIGIE_DETECTOR_PRIVILEGED_QUERY (retriable). */
export async function discoverPrivilegedRoles(db: Queryable): Promise<PrivilegedRole[]> {
  const rows = await queryCatalog(db, PRIVILEGED_ROLES_SQL, DETECTOR_ERRORS.PRIVILEGED_QUERY, 'privileged roles');
  return rows.map((r) => ({
    role: String(r['rolname']),
    reasons: [
      ...(r['rolsuper'] === true ? ['superuser'] : []),
      ...(r['rolcreaterole'] === true ? ['createrole'] : []),
      ...(r['rolreplication'] === true ? ['replication'] : []),
      ...(r['rolbypassrls'] === true ? ['bypassrls'] : []),
      ...(Array.isArray(r['memberships']) ? (r['memberships'] as unknown[]).map(String) : []),
    ],
  }));
}

/** The privileged-role set the engine reads, refreshed from each cluster's catalog by the caller's loop. */
export interface PrivilegedRoleSet extends PrivilegedRoles {
  /** Replaces what the catalog says for one cluster. */
  set(cluster: string, roles: Iterable<string>): void;
  /** Queries the cluster's catalog and replaces its set; keeps the previous set if the query fails (and rethrows). */
  refresh(cluster: string, db: Queryable): Promise<PrivilegedRole[]>;
  /** Roles currently known privileged by the catalog for a cluster. */
  catalogRoles(cluster: string): ReadonlySet<string>;
}

/**
 * Creates the privileged-role set: a role is privileged when the cluster's catalog says so (last refresh) or the
 * policy lists it (`roles.privileged`, patterns). Before the first refresh, only the policy counts.
 */
export function createPrivilegedRoles({
  policy,
  initial = {},
}: {
  policy?: CompiledPolicy;
  initial?: Record<string, readonly string[]>;
} = {}): PrivilegedRoleSet {
  const byCluster = new Map<string, ReadonlySet<string>>(
    Object.entries(initial).map(([cluster, roles]) => [cluster, new Set(roles)]),
  );
  const empty: ReadonlySet<string> = new Set();
  return {
    isPrivileged(cluster, role) {
      return (byCluster.get(cluster)?.has(role) ?? false) || (policy?.isListedPrivileged(role) ?? false);
    },
    set(cluster, roles) {
      byCluster.set(cluster, new Set(roles));
    },
    async refresh(cluster, db) {
      const found = await discoverPrivilegedRoles(db);
      byCluster.set(cluster, new Set(found.map((r) => r.role)));
      return found;
    },
    catalogRoles: (cluster) => byCluster.get(cluster) ?? empty,
  };
}
