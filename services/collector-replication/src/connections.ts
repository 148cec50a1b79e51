import type { ReplicationConfig } from './config.js';
import type { PgConnection } from './setup-replication.js';

/** The collector's connection (stream, slot reads, health) and the setup role's, when one is configured. */
export interface ReplicationConnections {
  connection: PgConnection;
  setup: PgConnection | undefined;
}

/** Builds the connections from the configuration: the setup role shares host, port and database. */
export function replicationConnections(
  config: Pick<ReplicationConfig, 'connection' | 'setup'>,
): ReplicationConnections {
  const connection: PgConnection = {
    host: config.connection.host,
    port: config.connection.port,
    database: config.connection.database,
    user: config.connection.user,
    ...(config.connection.password !== undefined ? { password: config.connection.password } : {}),
  };
  const setup: PgConnection | undefined = config.setup
    ? {
        ...connection,
        user: config.setup.user,
        ...(config.setup.password !== undefined ? { password: config.setup.password } : { password: undefined }),
      }
    : undefined;
  return { connection, setup };
}

/** Whether rows are inspected for personal data: forced on, or `auto` on a pre-production cluster. */
export function scansPersonalDataIn(
  scan: ReplicationConfig['personalData']['scan'],
  environment: string | undefined,
): boolean {
  return scan === 'on' || (scan === 'auto' && environment === 'pre-production');
}
