import pg from 'pg';
import { describeError, type Logger } from '@vigie/runtime';
import type { DetectorConfig } from './config.js';
import { coalesce, type Periodic } from './periodic.js';
import type { createPrivilegedRoles } from './privileged-roles.js';
import { discoverLoginRoles, type createRoleHistory } from './role-history.js';
import type { AlertStore } from './sinks/store/alert-store.js';

/** The catalog connection and what re-reads it: privileged roles, login roles, the role history built on them. */
export interface CatalogWatch {
  pool: pg.Pool;
  /** Re-reads the catalog now and once more a moment later (after a GRANT or CREATE ROLE … SUPERUSER). */
  refreshSoon: () => void;
}

/**
 * Connects to the monitored cluster's catalog and reads the privileged and login roles now and every
 * `privileged.refreshIntervalMs`. Without the catalog only the policy's list counts: detection degrades, it does
 * not stop.
 */
export async function watchCatalog(
  config: DetectorConfig,
  o: {
    roles: ReturnType<typeof createPrivilegedRoles>;
    store: AlertStore;
    roleHistory: ReturnType<typeof createRoleHistory>;
    logger: Logger;
    /** The catalog connection is one of Vigie's own sessions, announced as soon as it exists. */
    observePool: (pool: pg.Pool) => void;
    every: Periodic['every'];
  },
): Promise<CatalogWatch> {
  const { roles, store, roleHistory, logger } = o;
  const pool = new pg.Pool({ connectionString: config.privileged.connectionString, max: 1 });
  pool.on('error', () => undefined);
  o.observePool(pool);
  const refresh = async () => {
    const listed = await roles.refresh(config.cluster, pool);
    logger.debug({ privilegedRoles: listed.length }, 'privileged roles refreshed');
    // The login roles too: their first listing dates a role that never logs in, rolvaliduntil its expiry.
    await store.recordCatalogRoles(config.cluster, await discoverLoginRoles(pool));
    roleHistory.load(await store.loadRoleHistory());
  };
  await refresh().catch((error: unknown) =>
    logger.warn({ error: describeError(error) }, 'privileged roles: catalog unreadable; policy list only'),
  );
  o.every(config.privileged.refreshIntervalMs, refresh);
  const refreshSoon = coalesce(refresh, (error) =>
    logger.warn({ error: describeError(error) }, 'privileged roles: refresh after a grant failed'),
  );
  return { pool, refreshSoon };
}
