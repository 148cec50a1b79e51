import type pg from 'pg';
import { readOwnSession, type OwnSessions } from '@vigie/contract';
import { describeError, type Logger } from '@vigie/runtime';

/**
 * Records every connection a pool opens as one of the detector's own sessions (read from the server, as collectors
 * do for their heartbeats) and forgets it when the pool closes it. The query runs before the pool hands the new
 * connection out, so the session is known before the server has logged anything of what it does.
 */
export function trackPoolSessions(
  pool: pg.Pool,
  own: OwnSessions,
  { logger, onChange }: { logger: Logger; onChange: () => void },
): void {
  const sessionOf = new WeakMap<pg.PoolClient, string>();
  pool.on('connect', (client) => {
    readOwnSession(client).then(
      (identity) => {
        if (identity === undefined) return;
        sessionOf.set(client, identity.sessionId);
        own.seen(identity);
        onChange();
      },
      (error: unknown) => logger.warn({ error: describeError(error) }, 'own session: identity not readable'),
    );
  });
  pool.on('remove', (client) => {
    const id = sessionOf.get(client);
    if (id !== undefined) own.ended(id);
  });
}
