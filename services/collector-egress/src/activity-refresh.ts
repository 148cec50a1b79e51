import { identityOfRow, type OwnSessions } from '@vigie/contract';
import type { KeyedEvent } from './analyze-sockets.js';
import type { UnixSessionAnnouncer } from './analyze-unix-sessions.js';
import type { ActivitySource, SessionCache } from './source-pg-activity.js';

/** The pg_stat_activity join: snapshots into the session cache, the collector's own sessions, unix announcements. */
export interface ActivityRefresher {
  /** One pg_stat_activity snapshot into the cache; concurrent callers share the same query. */
  refresh(): Promise<void>;
  /** Whether the last snapshot failed (sockets then wait for their session). */
  readonly failing: boolean;
}

export interface ActivityRefresherOptions {
  activity: ActivitySource;
  cache: SessionCache;
  own: OwnSessions;
  unix: UnixSessionAnnouncer;
  /** Queues the unix-socket session events (not droppable). */
  emit: (events: readonly KeyedEvent[], droppable: boolean) => void;
  warn: (what: string, error: unknown) => void;
}

export function createActivityRefresher({
  activity,
  cache,
  own,
  unix,
  emit,
  warn,
}: ActivityRefresherOptions): ActivityRefresher {
  let failing = false;
  let refreshing: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    refreshing ??= (async () => {
      try {
        const rows = await activity.snapshot();
        const now = new Date();
        failing = false;
        for (const row of rows) {
          if (!row.self || row.user === null) continue;
          own.seen(
            identityOfRow({
              pid: row.pid,
              backend_start: row.backendStartEpoch,
              role: row.user,
              application_name: row.applicationName,
              client_addr: row.clientAddr ?? 'local',
              datname: row.database,
              backend_type: row.backendType,
            }),
            now.getTime(),
          );
        }
        cache.update(rows, now.getTime());
        emit(unix.observe(rows, now), false);
      } catch (error) {
        failing = true;
        warn('pg_stat_activity poll failed; sockets wait for their session', error);
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };
  return {
    refresh,
    get failing() {
      return failing;
    },
  };
}
