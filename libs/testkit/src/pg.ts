import { Socket } from 'node:net';
import pg from 'pg';
import { STACK } from './stack.js';

/** A TCP socket that leaves from a chosen loopback source address. */
class BoundSocket extends Socket {
  constructor(private readonly sourceAddress: string) {
    super();
  }
  override connect(...args: unknown[]): this {
    const [port, host] = args as [number, string];
    return super.connect({ port, host, localAddress: this.sourceAddress });
  }
}

/** Options of {@link connectAs}. */
export interface ConnectOptions {
  database?: string;
  /** Source address of the client socket (e.g. 127.0.0.2 for the bastion, 127.0.0.3 outside it). */
  localAddress?: string;
  applicationName?: string;
  /** Password to send (default: the role name, the local stack's password): a wrong one makes a failed login. */
  password?: string;
}

/** A real TCP connection to the local cluster as one of its roles (password = role name on the local stack). */
export async function connectAs(role: string, options: ConnectOptions = {}): Promise<pg.Client> {
  const { database = 'app', localAddress, applicationName = 'vigie-test', password = role } = options;
  const client = new pg.Client({
    host: STACK.pg.host,
    port: STACK.pg.port,
    user: role,
    password,
    database,
    application_name: applicationName,
    // pg calls stream.connect(port, host); this socket adds the source address to that call.
    ...(localAddress ? { stream: () => new BoundSocket(localAddress) } : {}),
  });
  await client.connect();
  return client;
}

/** Runs one statement on a fresh connection and closes it. */
export async function queryAs<T extends pg.QueryResultRow = pg.QueryResultRow>(
  role: string,
  sql: string,
  params: unknown[] = [],
  options: ConnectOptions = {},
): Promise<pg.QueryResult<T>> {
  const client = await connectAs(role, options);
  try {
    return await client.query<T>(sql, params);
  } finally {
    await client.end();
  }
}
