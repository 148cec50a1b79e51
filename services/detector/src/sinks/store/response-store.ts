import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { ResponseAction } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { DETECTOR_ERRORS } from '../../errors.js';

/** A login Vigie turned off, until when, and for which alert. */
export interface RoleLock {
  cluster: string;
  role: string;
  alertId: string;
  /** ISO instant LOGIN is due back. */
  until: string;
}

/** The store's record of active responses (tables of migration 5). */
export interface ResponseStore {
  /** Appends response actions (dry runs included: `dryRun`) to the trail. */
  recordResponses(alertId: string, cluster: string, actions: readonly ResponseAction[], dryRun: boolean): Promise<void>;
  /** Records a lock; a lock still running on the role is extended to the later expiry (returned). */
  saveLock(lock: RoleLock): Promise<RoleLock>;
  /** Locks whose LOGIN has not been restored yet. */
  activeLocks(): Promise<RoleLock[]>;
  /** Marks a lock released, unless it was extended past `until` meanwhile; returns whether it was. */
  releaseLock(lock: RoleLock): Promise<boolean>;
}

interface LockRow {
  cluster: string;
  role: string;
  alert_id: string;
  until: Date;
}

const toLock = (r: LockRow): RoleLock => ({
  cluster: r.cluster,
  role: r.role,
  alertId: r.alert_id,
  until: r.until.toISOString(),
});

/** The {@link ResponseStore} queries over the store's runtime pool (search_path set to the store schema). */
export function responseQueries(pool: pg.Pool): ResponseStore {
  return {
    async recordResponses(alertId, cluster, actions, dryRun) {
      if (actions.length === 0) return;
      try {
        await pool.query(
          `INSERT INTO response_actions (id, alert_id, cluster, role, action, mode, requested_by, dry_run, result, at, body)
           SELECT r->>'id', $1, $2, r->'a'->>'role', r->'a'->>'action', r->'a'->>'mode', r->'a'->>'by', $3,
                  r->'a'->>'result', (r->'a'->>'at')::timestamptz, r->'a'
           FROM jsonb_array_elements($4::jsonb) AS r`,
          [alertId, cluster, dryRun, JSON.stringify(actions.map((a) => ({ id: randomUUID(), a })))],
        );
      } catch (cause) {
        throw new VigieError(DETECTOR_ERRORS.STORE_WRITE, 'alert store: response trail insert failed', {
          retriable: true,
          cause,
        });
      }
    },

    async saveLock(lock) {
      const { rows } = await pool.query<LockRow>(
        `INSERT INTO role_locks (cluster, role, alert_id, locked_at, until) VALUES ($1, $2, $3, now(), $4)
         ON CONFLICT (cluster, role) DO UPDATE SET
           alert_id = excluded.alert_id, locked_at = excluded.locked_at,
           until = CASE WHEN role_locks.released_at IS NULL THEN GREATEST(role_locks.until, excluded.until)
                        ELSE excluded.until END,
           released_at = NULL
         RETURNING cluster, role, alert_id, until`,
        [lock.cluster, lock.role, lock.alertId, lock.until],
      );
      return rows[0] ? toLock(rows[0]) : lock;
    },

    async activeLocks() {
      const { rows } = await pool.query<LockRow>(
        'SELECT cluster, role, alert_id, until FROM role_locks WHERE released_at IS NULL ORDER BY until',
      );
      return rows.map(toLock);
    },

    async releaseLock(lock) {
      const result = await pool.query(
        `UPDATE role_locks SET released_at = now()
         WHERE cluster = $1 AND role = $2 AND released_at IS NULL AND until <= $3`,
        [lock.cluster, lock.role, lock.until],
      );
      return (result.rowCount ?? 0) > 0;
    },
  };
}
