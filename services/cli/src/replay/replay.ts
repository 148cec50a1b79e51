import { accessSync, constants, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Alert, VigieEvent } from '@vigie/contract';
import { createEngine, createPrivilegedRoles, loadRules, type PrivilegedRoles, type RuleSet } from '@vigie/detector';
import { parseLogFiles } from '@vigie/pglog';
import { formatLocal, loadSitePolicy, type CompiledPolicy } from '@vigie/policy';
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
import { createProgressReporter, type ProgressStream, type ReplayProgress } from './replay-progress.js';
import { countAlerts, formatSummary, type ReplaySummary } from './replay-summary.js';

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
  /**
   * Event-time window [since, until) in ms. Every record is still parsed (the parser follows each session's login,
   * SET ROLE and application name from its first line) and events before `since` still reach the rules, so a session
   * begun before the window is judged whole (a pg_dump begun at 01:55 is one dump, not a partial one); only alerts
   * whose activity reaches into the window (last seen ≥ since) are kept. Events at or after `until` are not given to
   * the rules; reading stops once an event is {@link UNTIL_READ_AHEAD_MS} past `until`.
   */
  since?: number | undefined;
  until?: number | undefined;
  /** Keep only alerts whose login or effective role is one of these (every session still goes through the rules). */
  roles?: readonly string[] | undefined;
  /**
   * Keep only alerts of these rules (ids checked by the caller). Every rule still runs, so rules that defer to each
   * other behave as live (a pg_dump is a `dump`, not also a `bulk-read`).
   */
  ruleIds?: readonly string[] | undefined;
  /** Told after each chunk read from disk (about 1 MiB). */
  onProgress?: ((p: Omit<ReplayProgress, 'elapsedMs'>) => void) | undefined;
}

/**
 * How far past `--until` reading goes on: the server stamps each record when the backend writes it, so records of
 * concurrent sessions reach the log slightly out of time order (milliseconds; minutes would be a very slow pipe).
 */
export const UNTIL_READ_AHEAD_MS = 5 * 60_000;

/** Result of a replay: each alert once, in its final state, and what was read. */
export interface ReplayResult {
  alerts: Alert[];
  /** Events given to the rules in the window. */
  events: number;
  rejected: number;
  /** What was read and found, for {@link formatSummary} (alerts counted from `alerts`). */
  summary: ReplaySummary;
}

/**
 * Runs the live parser (@vigie/pglog, as collector-pglog runs it) and the live rules (@vigie/detector's engine) over log files, in one process and on
 * event time: the same events give the same alert ids, revisions aside, as the live detector.
 */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const cluster = options.cluster ?? options.policy.policy.clusters[0]?.name ?? 'local';
  const { since, until } = options;
  const rules = options.rules ?? loadRules({ siteFile: options.rulesFile });
  const engine = createEngine({
    policy: options.policy,
    privileged: options.privileged,
    rules,
    // Server logs hold no heartbeats: a replay cannot tell Vigie's own sessions from others of its accounts.
    announcements: false,
  });
  const analyzer = await createSqlAnalyzer({ cacheSize: 10_000 });
  const latest = new Map<string, Alert>();
  const keep = (alerts: readonly Alert[]): void => {
    for (const a of alerts) latest.set(a.id, a);
  };
  const roleFilter = options.roles ?? [];
  const wantedRoles = new Set(roleFilter);
  const ofRole = (login: string | undefined, effective: string | undefined) =>
    wantedRoles.size === 0 ||
    (login !== undefined && wantedRoles.has(login)) ||
    (effective !== undefined && wantedRoles.has(effective));
  const bytesTotal = options.files.reduce((t, f) => t + statSync(f).size, 0);
  const tickEvery = options.tickEvery ?? 5_000;
  let records = 0;
  let bytesDone = 0;
  let processed = 0;
  let events = 0;
  let contextEvents = 0;
  let rejected = 0;
  let clock = 0;
  let first: number | undefined;
  let last: number | undefined;
  let stoppedAfterUntil = false;
  const sessions = new Set<string>();
  const roles = new Set<string>();
  const { onProgress } = options;
  const parsed = parseLogFiles(options.files, {
    cluster,
    analyzer,
    onRecord: () => void (records += 1),
    onRead: (_file, n) => {
      bytesDone += n;
      onProgress?.({ records, bytesDone, bytesTotal });
    },
  });
  for await (const out of parsed) {
    if (out.kind === 'deadletter') {
      rejected += 1;
      continue;
    }
    const event = out as VigieEvent;
    const ts = Date.parse(event.ts);
    if (until !== undefined && ts >= until) {
      if (ts >= until + UNTIL_READ_AHEAD_MS) {
        stoppedAfterUntil = true;
        break;
      }
      continue;
    }
    processed += 1;
    clock = Math.max(clock, ts);
    keep(engine.process(event));
    if (processed % tickEvery === 0) keep(engine.tick(clock));
    if (since !== undefined && ts < since) {
      contextEvents += 1;
      continue;
    }
    const login = event.session?.user;
    const effective = event.kind === 'statement' ? event.effectiveRole : undefined;
    if (!ofRole(login, effective)) continue;
    events += 1;
    first = first === undefined ? ts : Math.min(first, ts);
    last = last === undefined ? ts : Math.max(last, ts);
    if (event.session !== undefined) sessions.add(`${event.cluster}/${event.session.id}`);
    if (login !== undefined) roles.add(login);
    if (effective !== undefined) roles.add(effective);
  }
  // The state at the end of the log: incidents still open stay `firing` (the log may stop mid-incident).
  keep(engine.tick(clock));
  keep(engine.flush?.() ?? []);
  const ruleFilter = options.ruleIds ?? [];
  const wantedRules = new Set(ruleFilter);
  const alerts = [...latest.values()]
    .filter(
      (a) =>
        (since === undefined || Date.parse(a.lastSeen) >= since) &&
        (wantedRules.size === 0 || wantedRules.has(a.rule)) &&
        ofRole(a.who.login, a.who.effectiveRole),
    )
    .sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id));
  const summary: ReplaySummary = {
    files: options.files.length,
    bytes: bytesTotal,
    records,
    events,
    contextEvents,
    rejected,
    sessions: sessions.size,
    roles: [...roles].sort(),
    firstEventMs: first,
    lastEventMs: last,
    since,
    until,
    roleFilter,
    ruleFilter,
    stoppedAfterUntil,
  };
  return { alerts, events, rejected, summary };
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
                    [--since <ISO 8601>] [--until <ISO 8601>] [--role <name>]… [--rule <id>]…
                    [--pg <postgresql:// URL without password> [--pg-password-file <file>]]
  Files are read in the order given (jsonlog or csvlog, plain or gzip-compressed); pass them in the order the server
  wrote them. A summary table ends the output (on stderr with --json, so stdout stays one JSON object per line).
  --since/--until: event-time window [since, until), ISO 8601 with a UTC offset (2026-11-26T02:00:00+01:00 or
  …Z); sessions begun before --since are still followed, and an alert is kept when its activity reaches the window.
  --role keeps alerts whose login or effective role is that name; --rule keeps alerts of that rule (both repeatable).
  --pg reads the privileged roles from that cluster's catalog; its password comes from --pg-password-file,
  PGPASSWORD, or PGPASSFILE / ~/.pgpass (mode 0600), never from the command line.`;

/** ISO 8601 date and time with seconds optional and a mandatory offset (`Z`, `+01:00`, `+0100`). */
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * An instant given on the command line, in ms, or undefined when it is not ISO 8601 with an offset. A time
 * without an offset is refused rather than guessed: the logs' zone, the policy's and the shell's may all differ.
 */
export function parseInstant(text: string): number | undefined {
  const m = ISO_INSTANT.exec(text.trim());
  if (m === null) return undefined;
  const [, year, month, day, hour, minute] = m.map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || Number(m[6] ?? 0) > 59) {
    return undefined;
  }
  let offset = (m[8] ?? 'Z').toUpperCase();
  if (offset !== 'Z' && offset.length === 3) offset += ':00';
  else if (offset !== 'Z' && !offset.includes(':')) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  const ms = Date.parse(
    `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] ? `.${m[7].slice(0, 3)}` : ''}${offset}`,
  );
  // Date.parse rolls 2026-02-30 over to March: refuse a day the month does not have.
  if (Number.isNaN(ms) || new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  return ms;
}

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
  /** Where the progress line is drawn (only if it is a terminal); none by default. */
  progress?: ProgressStream;
}

const processIo: ReplayIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  exit: (code) => process.exit(code),
  progress: process.stderr,
};

/**
 * `vigie replay <files…> [--policy f] [--rules f] [--json] [--pg conn] [--cluster name] [--since t] [--until t]
 * [--role r]… [--rule id]…`: prints each alert once in its final state, then the summary table, and exits 0; a bad
 * argument, policy or rule file exits 2 with every problem listed.
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
        since: { type: 'string' },
        until: { type: 'string' },
        role: { type: 'string', multiple: true },
        rule: { type: 'string', multiple: true },
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
  const window: { since?: number; until?: number } = {};
  for (const key of ['since', 'until'] as const) {
    const text = values[key];
    if (text === undefined) continue;
    const ms = parseInstant(text);
    if (ms === undefined) {
      problems.push({
        path: `--${key}`,
        expected: 'an ISO 8601 date and time with a UTC offset (2026-11-26T02:00:00+01:00 or 2026-11-26T01:00:00Z)',
        found: JSON.stringify(text),
      });
    } else window[key] = ms;
  }
  if (window.since !== undefined && window.until !== undefined && window.since >= window.until) {
    problems.push({ path: '--until', expected: 'a time after --since', found: values.until ?? '' });
  }
  for (const r of values.role ?? []) {
    if (r.trim() === '') problems.push({ path: '--role', expected: 'a role name', found: '""' });
  }
  let policy: CompiledPolicy | undefined;
  let result: ReplayResult;
  let ruleIds: string[] = [];
  try {
    if (problems.length > 0) throw new ConfigError('vigie replay arguments', problems);
    policy = loadSitePolicy(values.policy, env);
    const cluster = values.cluster ?? policy.policy.clusters[0]?.name ?? 'local';
    const rules = loadRules({ siteFile: values.rules });
    ruleIds = rules.rules.map((r) => r.id).sort();
    const unknown = (values.rule ?? []).filter((id) => !ruleIds.includes(id));
    if (unknown.length > 0) {
      throw new ConfigError(
        'vigie replay arguments',
        unknown.map((id) => ({
          path: '--rule',
          expected: `one of the enabled rule ids (${ruleIds.join(', ')})`,
          found: rules.disabled.includes(id) ? `${id} (disabled by the site rules file)` : JSON.stringify(id),
        })),
      );
    }
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
    const progress = createProgressReporter(io.progress);
    try {
      result = await replay({
        files: positionals,
        policy,
        privileged,
        rules,
        cluster,
        ...window,
        roles: values.role,
        ruleIds: values.rule,
        onProgress: (p) => progress.update(p),
      });
    } finally {
      progress.finish();
    }
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
  const table = formatSummary(
    result.summary,
    countAlerts(result.alerts, values.rule !== undefined ? [...new Set(values.rule)].sort() : ruleIds),
  );
  // With --json stdout stays one alert object per line (for jq): the table goes to stderr.
  if (values.json) io.stderr(table);
  else io.stdout(`\n${table}`);
  io.stderr(
    `vigie replay: ${result.events} events from ${positionals.length} file(s), ${result.rejected} rejected record(s), ${result.alerts.length} alert(s)\n`,
  );
  return io.exit(EXIT.ok);
}
