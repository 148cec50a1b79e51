import { CONTRACT_VERSION, sessionKey } from '@vigie/contract';
import type { KeyedEvent } from './analyze-sockets.js';
import { isUnixSession, sessionOfRow, type ActivityRow } from './session-row.js';

/**
 * Announces each Unix-socket client session once: the kernel keeps no byte counters for it, so instead of samples
 * of zero bytes (which would read as "sent nothing") it gets one `transport: 'unix'` event saying the egress of
 * this session is not measurable.
 */
export interface UnixSessionAnnouncer {
  /** A full pg_stat_activity snapshot; returns the events of Unix sessions not announced yet. */
  observe(rows: readonly ActivityRow[], at: Date): KeyedEvent[];
}

/** Creates an announcer; it remembers the sessions of the last snapshot only, so memory follows the server's. */
export function createUnixSessionAnnouncer(cluster: string): UnixSessionAnnouncer {
  let announced = new Set<string>();
  return {
    observe(rows, at) {
      const events: KeyedEvent[] = [];
      const current = new Set<string>();
      for (const row of rows) {
        if (!isUnixSession(row)) continue;
        const session = sessionOfRow(row);
        current.add(session.id);
        if (announced.has(session.id)) continue;
        events.push({
          key: sessionKey(cluster, session.id),
          event: {
            v: CONTRACT_VERSION,
            kind: 'egress.sample',
            id: `${cluster}:${session.id}:egress:unix`,
            cluster,
            ts: at.toISOString(),
            session,
            source: { file: 'pg_stat_activity' },
            transport: 'unix',
            bytesSent: 0,
            bytesSentDelta: 0,
            final: false,
          },
        });
      }
      announced = current;
      return events;
    },
  };
}
