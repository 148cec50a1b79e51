import type { Alert, Severity } from '@vigie/contract';

/** What a replay read and found, for the table printed at its end ({@link formatSummary}). */
export interface ReplaySummary {
  files: number;
  /** Bytes of the files as stored (compressed for gzip files). */
  bytes: number;
  /** Log records read (every outcome: events, merged continuation lines, ignored, rejected). */
  records: number;
  /** Events in the window (and of the roles asked for): what the counts below describe. */
  events: number;
  /** Events before `--since` that the rules still saw, so that sessions begun earlier are judged whole. */
  contextEvents: number;
  /** Records the parser rejected (dead letters). */
  rejected: number;
  /** Distinct sessions with an event in the window. */
  sessions: number;
  /** Login and effective roles seen in the window, sorted. */
  roles: string[];
  /** Event time of the first and last event in the window (ms), when there was one. */
  firstEventMs?: number | undefined;
  lastEventMs?: number | undefined;
  since?: number | undefined;
  until?: number | undefined;
  /** `--role` values, when given. */
  roleFilter: readonly string[];
  /** `--rule` values, when given. */
  ruleFilter: readonly string[];
  /** Reading stopped before the end of the files, every record being well past `--until`. */
  stoppedAfterUntil: boolean;
}

const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];
const MAX_ROLES_LISTED = 20;

/** One row of the alert table: a rule and its alerts per severity. */
export interface AlertCountRow {
  rule: string;
  critical: number;
  warning: number;
  info: number;
  total: number;
}

/**
 * Alerts counted by rule and severity: one row per rule of `rules` (so a rule that found nothing shows 0) and per
 * rule of an alert, sorted by rule id.
 */
export function countAlerts(
  alerts: readonly Pick<Alert, 'rule' | 'severity'>[],
  rules: readonly string[],
): AlertCountRow[] {
  const rows = new Map<string, AlertCountRow>();
  const row = (rule: string): AlertCountRow => {
    let r = rows.get(rule);
    if (r === undefined) {
      r = { rule, critical: 0, warning: 0, info: 0, total: 0 };
      rows.set(rule, r);
    }
    return r;
  };
  for (const rule of rules) row(rule);
  for (const a of alerts) {
    const r = row(a.rule);
    r[a.severity] += 1;
    r.total += 1;
  }
  return [...rows.values()].sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString());
const n = (x: number): string => x.toLocaleString('en');

/**
 * The summary as stable plain text (times in UTC ISO 8601, counts with thousands separators, fixed columns), e.g.
 *
 * ```text
 * summary
 *   files          1 (343,840 bytes as stored)
 *   window         since 2026-12-05T11:54:54.000Z .. end of the log
 *   time covered   2026-12-05T11:54:54.012Z .. 2026-12-05T11:54:56.289Z
 *   records        380 read, 120 events (+ 128 before the window, seen by the rules as context), 0 rejected
 *   sessions       12
 *   roles          3: admin, contractor_bob, dba_alice
 *   filters        rule dump
 * alerts by rule   critical  warning     info    total
 *   dump                  6        0        0        6
 *   total                 6        0        0        6
 * ```
 */
export function formatSummary(s: ReplaySummary, rows: readonly AlertCountRow[]): string {
  const out: string[] = ['summary'];
  const field = (name: string, value: string) => out.push(`  ${name.padEnd(15)}${value}`);
  field('files', `${n(s.files)} (${n(s.bytes)} bytes as stored)`);
  field(
    'window',
    s.since === undefined && s.until === undefined
      ? 'whole log'
      : `${s.since === undefined ? 'start of the log' : `since ${iso(s.since)}`} .. ${s.until === undefined ? 'end of the log' : `until ${iso(s.until)} (excluded)`}`,
  );
  field('time covered', s.firstEventMs === undefined ? 'no event' : `${iso(s.firstEventMs)} .. ${iso(s.lastEventMs)}`);
  field(
    'records',
    `${n(s.records)} read, ${n(s.events)} events${s.contextEvents > 0 ? ` (+ ${n(s.contextEvents)} before the window, seen by the rules as context)` : ''}, ${n(s.rejected)} rejected${s.stoppedAfterUntil ? '; reading stopped past --until' : ''}`,
  );
  field('sessions', n(s.sessions));
  const listed = s.roles.slice(0, MAX_ROLES_LISTED).join(', ');
  const more = s.roles.length > MAX_ROLES_LISTED ? ` and ${s.roles.length - MAX_ROLES_LISTED} more` : '';
  field('roles', s.roles.length === 0 ? '0' : `${n(s.roles.length)}: ${listed}${more}`);
  const filters = [
    ...(s.roleFilter.length > 0 ? [`role ${s.roleFilter.join(', ')}`] : []),
    ...(s.ruleFilter.length > 0 ? [`rule ${s.ruleFilter.join(', ')}`] : []),
  ];
  field('filters', filters.length === 0 ? 'none' : filters.join('; '));
  const width = Math.max(14, ...rows.map((r) => r.rule.length + 2));
  const cells = (values: readonly (string | number)[]) =>
    values.map((v) => (typeof v === 'number' ? n(v) : v).padStart(9)).join('');
  out.push(`${'alerts by rule'.padEnd(width + 2)}${cells([...SEVERITIES, 'total'])}`);
  for (const r of rows) out.push(`  ${r.rule.padEnd(width)}${cells([r.critical, r.warning, r.info, r.total])}`);
  const sum = (k: keyof Omit<AlertCountRow, 'rule'>) => rows.reduce((t, r) => t + r[k], 0);
  out.push(`  ${'total'.padEnd(width)}${cells([sum('critical'), sum('warning'), sum('info'), sum('total')])}`);
  return `${out.join('\n')}\n`;
}
