import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { realClockEnv } from './real-clock.js';

const run = promisify(execFile);

/** Where Debian keeps the PostgreSQL 15 server binaries. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Options of {@link startPrivatePostgres}. */
export interface PrivatePostgresOptions {
  /** Extra `postgresql.conf` settings (`{ wal_sender_timeout: '5s' }`); values are written as given, quoted. */
  settings?: Record<string, string | number>;
  /** WAL segment size in MB (initdb `--wal-segsize`, a power of 2); small segments make WAL loss quick to provoke. */
  walSegmentSizeMb?: number;
  /**
   * initdb `--allow-group-access` (data directory 0750, files 0640) and a 0750 parent: a process in the `postgres`
   * group that is not `postgres` can then read the server log, as a log collector does in production.
   */
  groupAccess?: boolean;
}

/** A throw-away PostgreSQL 15 server on a free loopback port, trusted for every local role. */
export interface PrivatePostgres {
  port: number;
  host: string;
  dataDir: string;
  /** `postgresql://postgres@127.0.0.1:<port>/postgres` */
  connectionString: string;
  /** Stops the server (immediate) and deletes its files. Idempotent. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// The server keeps real time even when the test runs on a faked clock (test/support/faked-clock.sh).
const asPostgres = (cmd: string, args: string[]) =>
  run('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { env: realClockEnv() });

/**
 * Starts a private PostgreSQL 15 (`wal_level=logical`) for tests that must break something — lose a slot, shrink
 * WAL retention, lower `wal_sender_timeout` — without touching the shared cluster other tests use. Runs as the OS
 * user `postgres` (initdb refuses root); loopback only; trust authentication (nothing else can reach it).
 */
export async function startPrivatePostgres({
  settings = {},
  walSegmentSizeMb,
  groupAccess = false,
}: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-pg-'));
  chownSync(dir, ...(await postgresIds()));
  if (groupAccess) chmodSync(dir, 0o750);
  const dataDir = join(dir, 'data');
  await asPostgres('initdb', [
    '-D',
    dataDir,
    '-A',
    'trust',
    '-U',
    'postgres',
    '--no-sync',
    '--no-instructions',
    ...(walSegmentSizeMb ? [`--wal-segsize=${walSegmentSizeMb}`] : []),
    ...(groupAccess ? ['--allow-group-access'] : []),
  ]);
  const port = await freePort();
  const conf: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: dir,
    wal_level: 'logical',
    max_replication_slots: 10,
    max_wal_senders: 10,
    fsync: 'off',
    ...settings,
  };
  appendFileSync(
    join(dataDir, 'postgresql.conf'),
    `\n# vigie test settings\n${Object.entries(conf)
      .map(([k, v]) => `${k} = '${String(v).replace(/'/g, "''")}'`)
      .join('\n')}\n`,
  );
  writeFileSync(
    join(dataDir, 'pg_hba.conf'),
    'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n',
  );
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await asPostgres('pg_ctl', ['-D', dataDir, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (error) {
    // The server's own words say why (a bad setting, a port taken): keep them before the directory goes.
    let log = '';
    try {
      log = readFileSync(join(dir, 'server.log'), 'utf8').trim().split('\n').slice(-10).join('\n');
    } catch {
      // no log written
    }
    await stop();
    throw new Error(`private PostgreSQL did not start:\n${log}`, { cause: error });
  }
  return {
    port,
    host: '127.0.0.1',
    dataDir,
    connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    stop,
  };
}

/** The uid and gid of the OS user `postgres`. */
export async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return [Number(stdout.trim()), Number(g.trim())];
}
