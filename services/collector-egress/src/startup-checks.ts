import { spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import type { ErrorCode } from '@vigie/errors';
import { ConfigError, describeError, type ConfigProblem } from '@vigie/runtime';
import { parseSsOutput, run } from './source-ss-sample.js';
import type { ActivitySource } from './source-pg-activity.js';
import { EGRESS_ERRORS } from './errors.js';

/** What the checks need. */
export interface CheckOptions {
  ssCommand: string;
  stdbufCommand: string;
  serverPort: number;
  pg: { host: string; port: number; user: string };
  activity: ActivitySource;
  /** How long the close-event self-test waits for its own socket's close event. */
  closeProbeTimeoutMs?: number;
}

const problem = (code: ErrorCode, expected: string, found: string): ConfigProblem => ({ path: code, expected, found });

function errno(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? describeError(error);
}

/** `ss` from iproute2 is installed and runs. */
export async function checkSs(ssCommand: string): Promise<ConfigProblem | undefined> {
  try {
    await run(ssCommand, ['-V'], 5000);
    return undefined;
  } catch (error) {
    return problem(
      EGRESS_ERRORS.SS_MISSING,
      `\`${ssCommand}\` from iproute2 (fix: apt-get install -y iproute2, or set ssCommand)`,
      errno(error),
    );
  }
}

/** coreutils' `stdbuf` is installed (without it close events arrive kilobytes late). */
export async function checkStdbuf(stdbufCommand: string): Promise<ConfigProblem | undefined> {
  try {
    await run(stdbufCommand, ['--version'], 5000);
    return undefined;
  } catch (error) {
    return problem(
      EGRESS_ERRORS.STDBUF_MISSING,
      `\`${stdbufCommand}\` from coreutils (fix: apt-get install -y coreutils, or set stdbufCommand)`,
      errno(error),
    );
  }
}

/** PostgreSQL listens on `serverPort` of this host: the collector must run on the database host. */
export async function checkListener(ssCommand: string, serverPort: number): Promise<ConfigProblem | undefined> {
  let text: string;
  try {
    text = await run(ssCommand, ['-tlnHO', 'state', 'listening', `( sport = :${serverPort} )`], 5000);
  } catch {
    return undefined; // checkSs reports a missing or broken ss
  }
  if (parseSsOutput(text).sockets.length === 0) {
    return problem(
      EGRESS_ERRORS.NO_LISTENER,
      `PostgreSQL listening on TCP port ${serverPort} of this host (the collector runs on the database host; check serverPort)`,
      'no listening socket on that port',
    );
  }
  return undefined;
}

/**
 * Socket-close events reach this process: a `ss -tinEHO` child must print the close of a loopback connection this
 * check opens and closes itself. Kernels without sock_diag destroy events, or that keep them to CAP_NET_ADMIN,
 * fail here rather than silently losing every short connection.
 */
export async function checkCloseEvents(
  ssCommand: string,
  stdbufCommand: string,
  timeoutMs = 3000,
): Promise<ConfigProblem | undefined> {
  const server = createServer((socket) => socket.end('vigie close-event probe'));
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const port = (server.address() as AddressInfo).port;
  const child = spawn(stdbufCommand, ['-oL', ssCommand, '-tinEHO'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const seen = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      child.once('error', () => resolve(false));
      child.once('close', () => resolve(false));
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes(`:${port} `)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    // Give ss a moment to subscribe before the first probe connection; then probe until an event shows up.
    const interval = setInterval(() => {
      const c = connect(port, '127.0.0.1');
      c.on('error', () => undefined);
      c.resume();
      c.on('end', () => c.end());
    }, 300);
    const ok = await seen.finally(() => clearInterval(interval));
    if (ok) return undefined;
    return problem(
      EGRESS_ERRORS.NO_CLOSE_EVENTS,
      'socket-close events from `ss -tinEHO` (fix: run as root or with CAP_NET_ADMIN; the kernel needs ' +
        'CONFIG_INET_DIAG, i.e. the inet_diag and tcp_diag modules)',
      `no close event for a probe connection within ${timeoutMs} ms`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The database role can read other sessions' client fields in pg_stat_activity. */
export async function checkStatsRole(
  activity: ActivitySource,
  pg: { host: string; port: number; user: string },
): Promise<ConfigProblem | undefined> {
  let ok: boolean;
  try {
    const rows = await activity.query<{ ok: boolean }>(
      `SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
         OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS ok`,
    );
    ok = rows[0]?.ok === true;
  } catch (error) {
    return problem(
      EGRESS_ERRORS.PG_CONNECT,
      `a connection to PostgreSQL at ${pg.host}:${pg.port} as ${pg.user} (fix: postgres.* settings, ` +
        'VIGIE_POSTGRES__PASSWORD, pg_hba.conf)',
      describeError(error),
    );
  }
  if (ok) return undefined;
  return problem(
    EGRESS_ERRORS.PG_STATS_ROLE,
    `role ${pg.user} a member of pg_read_all_stats (fix: GRANT pg_read_all_stats TO ${pg.user}; or pg_monitor)`,
    'pg_stat_activity hides other sessions’ client address, port and backend start from this role',
  );
}

/** Runs every check; throws one ConfigError listing every failure with its fix (the service exits 2). */
export async function runStartupChecks(options: CheckOptions): Promise<void> {
  const { ssCommand, stdbufCommand, serverPort, pg, activity, closeProbeTimeoutMs } = options;
  const [ss, stdbuf, pgRole] = await Promise.all([
    checkSs(ssCommand),
    checkStdbuf(stdbufCommand),
    checkStatsRole(activity, pg),
  ]);
  const listener = ss ? undefined : await checkListener(ssCommand, serverPort);
  const close = ss || stdbuf ? undefined : await checkCloseEvents(ssCommand, stdbufCommand, closeProbeTimeoutMs);
  const problems = [ss, stdbuf, listener, close, pgRole].filter((p): p is ConfigProblem => p !== undefined);
  if (problems.length > 0) throw new ConfigError('collector-egress startup checks', problems);
}
