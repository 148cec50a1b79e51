import pg from 'pg';
import { readOwnSession, type CollectorIdentity, type OwnSessions } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import type { Logger } from '@vigie/runtime';
import { REPLICATION_ERRORS } from './errors.js';

/** Where and as whom to connect (a pg client configuration without replication). */
export type PgConnection = pg.ClientConfig;

/** What {@link ensureReplication} found or created. */
export interface ReplicationSetup {
  slotCreated: boolean;
  publicationCreated: boolean;
}

/** Where the collector records the sessions it opens (announced in its heartbeats), and as what. */
export interface SessionRecorder {
  own: OwnSessions;
  account: CollectorIdentity['account'];
}

async function withClient<T>(
  config: PgConnection,
  fn: (c: pg.Client) => Promise<T>,
  recorder?: SessionRecorder,
): Promise<T> {
  const client = new pg.Client({ ...config, application_name: 'vigie-collector-replication' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    throw new VigieError(REPLICATION_ERRORS.CONNECT, `cannot connect to ${config.host}:${config.port}`, {
      retriable: true,
      cause,
    });
  }
  let sessionId: string | undefined;
  try {
    if (recorder !== undefined) {
      // Announced before it does anything: short as it is, the server logs it like any session.
      const identity = await readOwnSession(client, recorder.account);
      if (identity !== undefined) {
        recorder.own.seen(identity);
        sessionId = identity.sessionId;
      }
    }
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
    if (sessionId !== undefined) recorder?.own.ended(sessionId);
  }
}

/**
 * Creates the collector's publication and slot when they are missing, and checks an existing slot is a pgoutput
 * slot of the same database (otherwise it is someone else's and the collector refuses to touch it). The slot is
 * created by the streaming role (REPLICATION is enough); the publication FOR ALL TABLES needs a superuser, so it
 * is created with `setup` when given, else the error says which statement a DBA must run.
 */
export async function ensureReplication({
  connection,
  setup,
  slot,
  publication,
  logger,
  own,
}: {
  connection: PgConnection;
  setup?: PgConnection | undefined;
  slot: string;
  publication: string;
  logger: Logger;
  /** Records the sessions opened here (the setup one as `setup`: its role is an administrator's, not Vigie's). */
  own?: OwnSessions | undefined;
}): Promise<ReplicationSetup> {
  const result: ReplicationSetup = { slotCreated: false, publicationCreated: false };
  await withClient(
    connection,
    async (client) => {
      const pub = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
      if (pub.rowCount === 0) {
        if (!setup) {
          throw new VigieError(
            REPLICATION_ERRORS.PUBLICATION_MISSING,
            `publication ${publication} does not exist in database ${String(connection.database)}: ` +
              `a superuser must run CREATE PUBLICATION ${publication} FOR ALL TABLES (or configure setup.user)`,
            { context: { publication } },
          );
        }
        await withClient(
          setup,
          async (admin) => {
            try {
              // The name is a validated identifier (config schema); DDL takes no parameters.
              await admin.query(`CREATE PUBLICATION ${publication} FOR ALL TABLES`);
            } catch (cause) {
              // Another instance may have created it meanwhile (42710 duplicate_object): that is fine.
              if ((cause as { code?: string }).code !== '42710') {
                throw new VigieError(
                  REPLICATION_ERRORS.PUBLICATION_CREATE,
                  `cannot create publication ${publication}`,
                  {
                    cause,
                  },
                );
              }
            }
          },
          own && { own, account: 'setup' },
        );
        result.publicationCreated = true;
        logger.info({ publication }, 'publication created');
      }

      const existing = await client.query<{ plugin: string | null; database: string | null; slot_type: string }>(
        'SELECT plugin, database, slot_type FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const row = existing.rows[0];
      if (row) {
        if (row.slot_type !== 'logical' || row.plugin !== 'pgoutput' || row.database !== connection.database) {
          throw new VigieError(
            REPLICATION_ERRORS.SLOT_CONFLICT,
            `slot ${slot} exists but is not a pgoutput slot of database ${String(connection.database)} ` +
              `(${row.slot_type} ${row.plugin ?? '-'} on ${row.database ?? '-'}): it is not Vigie's; choose another name`,
            { context: { slot } },
          );
        }
        return;
      }
      try {
        await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
        result.slotCreated = true;
        logger.info({ slot }, 'replication slot created');
      } catch (cause) {
        if ((cause as { code?: string }).code !== '42710') {
          throw new VigieError(REPLICATION_ERRORS.SLOT_CREATE, `cannot create replication slot ${slot}`, { cause });
        }
      }
    },
    own && { own, account: 'vigie' },
  );
  return result;
}

/** The slot's confirmed position and WAL status, read before each (re)connection. */
export async function readSlot(
  connection: PgConnection,
  slot: string,
  own?: OwnSessions,
): Promise<{ confirmedFlushLsn: string | null; walStatus: string | null } | undefined> {
  return withClient(
    connection,
    async (client) => {
      const res = await client.query<{ confirmed_flush_lsn: string | null; wal_status: string | null }>(
        'SELECT confirmed_flush_lsn::text, wal_status FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const row = res.rows[0];
      return row ? { confirmedFlushLsn: row.confirmed_flush_lsn, walStatus: row.wal_status } : undefined;
    },
    own && { own, account: 'vigie' },
  );
}
