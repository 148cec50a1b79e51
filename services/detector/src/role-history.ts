import type { CatalogRole, RoleHistory } from './engine/types.js';
import { queryCatalog, type Queryable } from './privileged-roles.js';
import type { CatalogListing, StoredRoleHistory } from './sinks/store/alert-store.js';
import { DETECTOR_ERRORS } from './errors.js';

/**
 * Login roles and their password expiry. `infinity` (VALID UNTIL 'infinity') is no expiry; the expiry is read as
 * epoch milliseconds so that no DateStyle or infinity parsing stands between the catalog and the rule.
 */
export const LOGIN_ROLES_SQL = `
SELECT r.rolname,
       CASE WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN NULL
            ELSE (extract(epoch FROM r.rolvaliduntil) * 1000)::float8 END AS valid_until_ms
  FROM pg_catalog.pg_roles r
 WHERE r.rolcanlogin AND r.rolname !~ '^pg_'
 ORDER BY r.rolname`;

/** Reads a cluster's login roles. Throws VIGIE_DETECTOR_ROLES_QUERY (retriable). */
export async function discoverLoginRoles(db: Queryable): Promise<CatalogListing[]> {
  const rows = await queryCatalog(db, LOGIN_ROLES_SQL, DETECTOR_ERRORS.ROLES_QUERY, 'login roles');
  return rows.map((r) => ({
    role: String(r['rolname']),
    ...(typeof r['valid_until_ms'] === 'number' && { validUntil: new Date(r['valid_until_ms']).toISOString() }),
  }));
}

/** The engine's role history, replaced from the store's copy at startup and after each catalog read. */
export interface LoadedRoleHistory extends RoleHistory {
  load(stored: StoredRoleHistory): void;
}

/** Creates an empty role history (nothing remembered until the first {@link LoadedRoleHistory.load}). */
export function createRoleHistory(): LoadedRoleHistory {
  let lastSeen = new Map<string, number>();
  let catalog = new Map<string, CatalogRole>();
  let since = new Map<string, number>();
  const earliest = (map: Map<string, number>, cluster: string, ms: number) => {
    if (ms < (map.get(cluster) ?? Infinity)) map.set(cluster, ms);
  };
  return {
    lastSeen: (cluster, role) => lastSeen.get(`${cluster}/${role}`),
    catalog: (cluster, role) => catalog.get(`${cluster}/${role}`),
    since: (cluster) => since.get(cluster),
    load(stored) {
      const seen = new Map<string, number>();
      const listed = new Map<string, CatalogRole>();
      const first = new Map<string, number>();
      for (const s of stored.lastSeen) {
        const ms = Date.parse(s.ts);
        seen.set(`${s.cluster}/${s.role}`, ms);
        earliest(first, s.cluster, ms);
      }
      for (const c of stored.catalog) {
        const firstListedMs = Date.parse(c.firstListed);
        listed.set(`${c.cluster}/${c.role}`, {
          firstListedMs,
          ...(c.validUntil !== undefined && { validUntilMs: Date.parse(c.validUntil) }),
        });
        earliest(first, c.cluster, firstListedMs);
      }
      // Swapped whole: a rule never sees half a reload.
      lastSeen = seen;
      catalog = listed;
      since = first;
    },
  };
}
