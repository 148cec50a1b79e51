import { accessSync, constants } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Alert, VigieEvent } from '@vigie/contract';
import { parseLogFiles } from '@vigie/collector-pglog';
import { compilePolicy, formatLocal, loadPolicy, policyFileFrom, type CompiledPolicy } from '@vigie/policy';
import {
  ConfigError,
  connectionCredentials,
  describeError,
  EXIT,
  hideConnectionPasswords,
  pgPasswordFor,
  type ConfigProblem,
} from '@vigie/runtime';
import { createSqlAnalyzer } from '@vigie/sql';
import pg from 'pg';
import { createEngine } from './engine/engine.js';
import type { PrivilegedRoles } from './engine/types.js';
import { createPrivilegedRoles } from './privileged-roles.js';
import type { RuleSet } from './engine/rule-api.js';
import { loadRules } from './rules/load.js';

/** What a replay needs, already loaded. */
export interface ReplayOptions {
  files: readonly string[];
  policy: CompiledPolicy;
  privileged: PrivilegedRoles;
  /** Site rule file (overrides), if any. */
  rulesFile?: string | undefined;
  /** Rules already loaded (shipped + `rulesFile`); loaded here when absent. */
  rules?: RuleSet | undefined;
  /** Cluster name the events are attributed to (the policy's first cluster by default). */
  cluster?: string | undefined;
  /** Events between two ticks of the event-time clock (resolutions, eviction). */
  tickEvery?: number;
}

/** Result of a replay: each alert once, in its final state, and what was read. */
export interface ReplayResult {
  alerts: Alert[];
  events: number;
  rejected: number;
}

/**
 * Runs the live parser (collector-pglog's pipeline) and the live rules over log files, in one process and on
 * event time: the same events give the same alert ids, revisions aside, as the live detector.
 */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const cluster = options.cluster ?? options.policy.policy.clusters[0]?.name ?? 'local';
  const engine = createEngine({
    policy: options.policy,
    privileged: options.privileged,
    rules: options.rules ?? loadRules({ siteFile: options.rulesFile }),
    // Server logs hold no heartbeats: a replay cannot tell Vigie's own sessions from others of its accounts.
    announcements: false,
  });
  const analyzer = await createSqlAnalyzer({ cacheSize: 10_000 });
  const latest = new Map<string, Alert>();
  const keep = (alerts: readonly Alert[]): void => {
    for (const a of alerts) latest.set(a.id, a);
  };
  const tickEvery = options.tickEvery ?? 5_000;
  let events = 0;
  let rejected = 0;
  let clock = 0;
  for await (const out of parseLogFiles(options.files, { cluster, analyzer })) {
    if (out.kind === 'deadletter') {
      rejected += 1;
      continue;
    }
    const event = out as VigieEvent;
    events += 1;
    clock = Math.max(clock, Date.parse(event.ts));
    keep(engine.process(event));
    if (events % tickEvery === 0) keep(engine.tick(clock));
  }
  // The state at the end of the log: incidents still open stay `firing` (the log may stop mid-incident).
  keep(engine.tick(clock));
  keep(engine.flush?.() ?? []);
  const alerts = [...latest.values()].sort(
    (a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id),
  );
  return { alerts, events, rejected };
}

/**
 * What a replay cannot know about privileges, as a warning for stderr (undefined when nothing is blind): without
 * the cluster's catalog (`--pg`), a superuser or a member of pg_read_all_data is privileged only if the policy's
 * `roles.privileged` lists it, so rules that only watch privileged roles miss the others — silently, before this.
 */
export function privilegeWarning(rules: RuleSet, policy: CompiledPolicy, catalogRead: boolean): string | undefined {
  if (catalogRead) return undefined;
  const blind = rules.rules.filter((r) => r.needsPrivilegedRoles === true).map((r) => r.id);
  if (blind.length === 0) return undefined;
  const listed = policy.policy.roles.privileged;
  const names = blind.join(', ');
  return listed.length === 0
    ? `vigie replay: warning: no --pg and no roles.privileged in the policy: no role is known to be privileged, so ${names} cannot raise any alert (not even for a superuser). Pass --pg <connection string> to read privileged roles from the cluster's catalog, or list them in roles.privileged.\n`
    : `vigie replay: warning: no --pg: only the policy's roles.privileged (${listed.join(', ')}) count as privileged; ${names} cannot see other superusers, CREATEROLE/REPLICATION/BYPASSRLS roles or members of pg_read_all_data. Pass --pg <connection string> to read them from the cluster's catalog.\n`;
}

/** The `--json` line of an alert: snake_case fields an investigator can feed to jq. */
export function alertJson(a: Alert): Record<string, unknown> {
  return {
    id: a.id,
    rule: a.rule,
    severity: a.severity,
    status: a.status,
    summary: a.summary,
    cluster: a.cluster,
    database: a.database ?? null,
    session_id: a.sessionId ?? null,
    role: a.who.effectiveRole ?? a.who.login ?? null,
    login: a.who.login ?? null,
    client_addr: a.where.clientAddr ?? null,
    client_class: a.where.clientClass,
    application_name: a.where.applicationName ?? null,
    tables: a.what.tables,
    rows: a.what.rows ?? null,
    bytes: a.what.bytes ?? null,
    statements: a.what.statements ?? null,
    first_seen: a.firstSeen,
    last_seen: a.lastSeen,
    revision: a.revision,
    tags: a.tags,
    evidence: a.evidence,
  };
}

/** One readable line per alert: `2026-11-26 02:14 Europe/Paris  CRITICAL  dump  <summary>  [id]`. */
export function alertLine(a: Alert, timeZone: string): string {
  const when = formatLocal(Date.parse(a.firstSeen), timeZone, true);
  const status = a.status === 'resolved' ? '' : ' (still open at the end of the log)';
  return `${when}  ${a.severity.toUpperCase().padEnd(8)}  ${a.rule}  ${a.summary}${status}  [${a.id}]`;
}

const USAGE = `usage: vigie replay <log files…> [--policy <file>] [--rules <site rules file>] [--json] [--cluster <name>]
                    [--pg <postgresql:// URL without password> [--pg-password-file <file>]]
  Files are read in the order given (jsonlog .json or csvlog .csv); pass them in the order the server wrote them.
  --pg reads the privileged roles from that cluster's catalog; its password comes from --pg-password-file,
  PGPASSWORD, or PGPASSFILE / ~/.pgpass (mode 0600), never from the command line.`;

/**
 * The connection string `--pg` stands for, with its password filled in from a file or the environment. A password
 * written in the argument is refused: every local user can read a command line (`ps`, `/proc/<pid>/cmdline`).
 */
export function replayConnection(
  argument: string,
  {
    env,
    passwordFile,
    warn,
  }: { env: Record<string, string | undefined>; passwordFile?: string; warn: (t: string) => void },
): string {
  const creds = connectionCredentials(argument);
  if (creds === undefined) {
    throw new ConfigError('vigie replay arguments', [
      { path: '--pg', expected: 'a postgresql:// URL', found: JSON.stringify(hideConnectionPasswords(argument)) },
    ]);
  }
  if (creds.password !== undefined) {
    throw new ConfigError('vigie replay arguments', [
      {
        path: '--pg',
        expected:
          'a URL without a password (any local user can read a command line): give it with PGPASSWORD, PGPASSFILE or ~/.pgpass (mode 0600), or --pg-password-file <file>',
        found: hideConnectionPasswords(argument),
      },
    ]);
  }
  const url = new URL(argument);
  let found;
  try {
    found = pgPasswordFor(url, { env, passwordFile });
  } catch (cause) {
    throw new ConfigError('vigie replay arguments', [
      {
        path: '--pg-password-file',
        expected: 'a readable file holding the password',
        found: `${passwordFile ?? ''} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      },
    ]);
  }
  for (const w of found.warnings) warn(`vigie replay: warning: ${w}\n`);
  if (found.password !== undefined) url.password = encodeURIComponent(found.password);
  return url.toString();
}

/** Where replay writes and how it exits (tests pass their own). */
export interface ReplayIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  exit: (code: number) => void;
}

const processIo: ReplayIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  exit: (code) => process.exit(code),
};

/**
 * `vigie replay <files…> [--policy f] [--rules f] [--json] [--pg conn] [--cluster name]`: prints each alert once in
 * its final state and exits 0; a bad argument, policy or rule file exits 2 with every problem listed.
 */
export async function replayMain(
  args: string[],
  env: Record<string, string | undefined>,
  io: ReplayIo = processIo,
): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        policy: { type: 'string' },
        rules: { type: 'string' },
        json: { type: 'boolean', default: false },
        pg: { type: 'string' },
        'pg-password-file': { type: 'string' },
        cluster: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    io.stderr(`vigie replay: ${(error as Error).message}\n${USAGE}\n`);
    return io.exit(EXIT.config);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return io.exit(EXIT.ok);
  }
  const problems: ConfigProblem[] = [];
  if (positionals.length === 0) problems.push({ path: 'files', expected: 'at least one log file', found: 'nothing' });
  for (const f of positionals) {
    try {
      accessSync(f, constants.R_OK);
    } catch (cause) {
      problems.push({
        path: 'files',
        expected: 'a readable log file',
        found: `${f} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      });
    }
  }
  let policy: CompiledPolicy | undefined;
  let result: ReplayResult;
  try {
    if (problems.length > 0) throw new ConfigError('vigie replay arguments', problems);
    policy = compilePolicy(loadPolicy(policyFileFrom(values.policy, env)));
    const cluster = values.cluster ?? policy.policy.clusters[0]?.name ?? 'local';
    const rules = loadRules({ siteFile: values.rules });
    const privileged = createPrivilegedRoles({ policy });
    if (values['pg-password-file'] !== undefined && values.pg === undefined) {
      throw new ConfigError('vigie replay arguments', [
        { path: '--pg-password-file', expected: 'to come with --pg', found: 'no --pg' },
      ]);
    }
    let catalogRead = false;
    if (values.pg !== undefined) {
      const connectionString = replayConnection(values.pg, {
        env,
        ...(values['pg-password-file'] !== undefined ? { passwordFile: values['pg-password-file'] } : {}),
        warn: io.stderr,
      });
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        const found = await privileged.refresh(cluster, client);
        catalogRead = true;
        io.stderr(`vigie replay: ${found.length} privileged role(s) read from the cluster's catalog (--pg)\n`);
      } finally {
        await client.end();
      }
    }
    const warning = privilegeWarning(rules, policy, catalogRead);
    if (warning !== undefined) io.stderr(warning);
    result = await replay({ files: positionals, policy, privileged, rules, cluster });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return io.exit(EXIT.config);
    }
    io.stderr(`vigie replay: ${describeError(error)}\n`);
    return io.exit(EXIT.failure);
  }
  const tz = policy.policy.businessHours.timezone;
  for (const a of result.alerts) io.stdout(values.json ? `${JSON.stringify(alertJson(a))}\n` : `${alertLine(a, tz)}\n`);
  io.stderr(
    `vigie replay: ${result.events} events from ${positionals.length} file(s), ${result.rejected} rejected record(s), ${result.alerts.length} alert(s)\n`,
  );
  return io.exit(EXIT.ok);
}
