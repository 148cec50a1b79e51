import {
  eventMs,
  addObjects,
  addTables,
  alertId,
  maxSeverity,
  memoize,
  type IncidentSeed,
  type RuleContext,
  type SessionState,
} from '../../engine/rule-api.js';
import type { Alert, ClientClass, Severity, StatementEvent, VigieEvent } from '@vigie/contract';
import type { CompiledPolicy } from '@vigie/policy';
import { localTime, type LocalTime } from '@vigie/policy';
import type { RuleBase } from '../rule-type.js';

/** pgaudit object types that hold rows of data; a sequence or an index in a personal-data schema does not. */
const DATA_OBJECT_TYPES = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE', 'PARTITIONED TABLE']);

/**
 * Personal-data relations a statement touches: parser reads, COPY relation and pgaudit objects, deduplicated.
 * Relations pgaudit names as something else than a table or view (pg_dump reads `social.payments_id_seq`, which a
 * `social.*` pattern matches) are left out.
 */
export function personalTables(event: StatementEvent, policy: CompiledPolicy): string[] {
  const out = new Set<string>();
  const notData = new Set<string>();
  for (const o of event.audit.objects) {
    const name = qualify(o.name);
    if (DATA_OBJECT_TYPES.has(o.type)) {
      if (policy.isPersonalDataTable(name)) out.add(name);
    } else notData.add(name);
  }
  for (const r of event.sql.reads) {
    const name = qualify(r);
    if (!notData.has(name) && policy.isPersonalDataTable(name)) out.add(name);
  }
  const copied = event.sql.copy?.relation;
  if (copied !== undefined && policy.isPersonalDataTable(copied)) out.add(qualify(copied));
  return [...out];
}

/** `citizens` → `public.citizens`, lower-cased and unquoted: one spelling per table in alerts. */
export function qualify(relation: string): string {
  const r = relation.replace(/"/g, '').toLowerCase();
  return r.includes('.') ? r : `public.${r}`;
}

/** The role that acted: the effective role after SET ROLE, else the login. */
export function actingRole(session: SessionState): string | undefined {
  return session.effectiveRole ?? session.login;
}

/** Whether the session's login or effective role is privileged (catalog or policy). */
export function isPrivilegedSession(session: SessionState, ctx: RuleContext): boolean {
  const check = (role: string | undefined): boolean =>
    role !== undefined && (ctx.privileged.isPrivileged(session.cluster, role) || ctx.policy.isListedPrivileged(role));
  return check(session.login) || check(session.effectiveRole);
}

/** Severity from the client's place: the rule's base from the bastion, `outside` from anywhere else. */
export function severityByPlace(base: Severity, outside: Severity, clientClass: ClientClass): Severity {
  return clientClass === 'bastion' ? base : outside;
}

/** The alert fields every session incident starts with. */
export function sessionSeed(
  base: RuleBase,
  session: SessionState,
  ctx: RuleContext,
  event: VigieEvent,
  over: { id: string; severity: Severity; quietMs: number },
): () => IncidentSeed {
  return () => ({
    id: over.id,
    rule: base.id,
    title: base.title,
    severity: over.severity,
    cluster: session.cluster,
    database: session.database,
    sessionId: session.id,
    sessionKey: session.key,
    who: {
      ...(session.login !== undefined && { login: session.login }),
      ...(actingRole(session) !== undefined && { effectiveRole: actingRole(session) }),
      privileged: isPrivilegedSession(session, ctx),
    },
    where: {
      clientAddr: session.clientAddr,
      clientClass: session.clientClass,
      applicationName: session.applicationName,
    },
    tags: [...base.tags],
    tsMs: eventMs(event),
    quietMs: over.quietMs,
  });
}

/**
 * The alert fields of an incident no session can be named for (a transaction seen only in the WAL, a connection the
 * egress collector could not join): who is unknown, where is at best a client address.
 */
export function sessionlessSeed(
  base: RuleBase,
  event: VigieEvent,
  over: { id: string; severity: Severity; quietMs: number; where?: IncidentSeed['where'] },
): () => IncidentSeed {
  return () => ({
    id: over.id,
    rule: base.id,
    title: base.title,
    severity: over.severity,
    cluster: event.cluster,
    who: {},
    where: over.where ?? { clientClass: 'unknown' },
    tags: [...base.tags],
    tsMs: eventMs(event),
    quietMs: over.quietMs,
  });
}

/** 1234 → `1,234`; 1_234_567 → `1.2M`: counts a human reads at a glance. */
export function humanCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return n.toLocaleString('en-US');
}

/** Bytes in KB/MB/GB (powers of 1000, as network people count). */
export function humanBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

/** `by dba_alice` or `by dba_alice as admin` (SET ROLE). */
export function byWhom(alert: Alert): string {
  const { login, effectiveRole } = alert.who;
  if (login === undefined) return effectiveRole === undefined ? 'by an unknown role' : `by ${effectiveRole}`;
  return effectiveRole !== undefined && effectiveRole !== login ? `by ${login} as ${effectiveRole}` : `by ${login}`;
}

/** `from 10.0.3.7 (not the bastion)` / `from the bastion (127.0.0.2)` / `over a local socket`. */
export function fromWhere(alert: Alert): string {
  const addr = alert.where.clientAddr;
  switch (alert.where.clientClass) {
    case 'bastion':
      return `from the bastion (${addr ?? '?'})`;
    case 'local':
      return 'over a local socket on the database host';
    case 'unknown':
      return 'from an unknown address';
    default:
      return `from ${addr ?? '?'} (not the bastion)`;
  }
}

/**
 * Wall-clock readings of first sightings, by `<zone> <firstSeen>`: a summary is rendered at every revision of an
 * incident, its first sighting rarely changes, and reading a time in a zone (Intl) costs microseconds.
 */
const localFirstSeen = memoize((key: string) => {
  const at = key.indexOf(' ');
  return localTime(Date.parse(key.slice(at + 1)), key.slice(0, at));
});

/** The incident's first sighting on the wall clock of `timeZone`. */
export function firstSeenIn(alert: Alert, timeZone: string): LocalTime {
  return localFirstSeen(`${timeZone} ${alert.firstSeen}`);
}

/** `at 02:14 Europe/Paris` from the incident's first sighting (what `formatLocal` writes). */
export function atWhen(alert: Alert, timeZone: string): string {
  return `at ${firstSeenIn(alert, timeZone).time} ${timeZone}`;
}

/** `public.citizens, social.payments and 3 more`. */
export function tableList(tables: readonly string[], shown = 3): string {
  if (tables.length <= shown) return tables.join(', ');
  return `${tables.slice(0, shown).join(', ')} and ${tables.length - shown} more`;
}

/**
 * One incident per session naming each finding of a statement (`what.objects`, and the tables involved): a finding
 * the incident did not name yet is news for on-call at once; the severity only goes up.
 */
export function recordSessionFindings(
  base: RuleBase,
  session: SessionState,
  ctx: RuleContext,
  event: StatementEvent,
  findings: { severity: Severity; labels: readonly string[]; tables?: readonly string[]; quietMs: number },
): void {
  const { severity, labels, tables = [], quietMs } = findings;
  const id = alertId(base.id, session.cluster, session.id);
  ctx.alerts.update(
    sessionSeed(base, session, ctx, event, { id, severity, quietMs }),
    id,
    (i) => {
      const before = i.alert.what.objects?.length ?? 0;
      addObjects(i.alert, labels);
      if ((i.alert.what.objects?.length ?? 0) > before) i.news = true;
      if (tables.length > 0) addTables(i.alert, tables);
      i.alert.severity = maxSeverity(i.alert.severity, severity);
      i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
    },
    { eventId: event.id, tsMs: eventMs(event), statement: event.sql.redacted },
  );
}

/** A session incident that statements only count up is updated at most this often (news and the end at once). */
const COUNT_UPDATE_EVERY_MS = 60_000;

/**
 * Whether a session incident's update is due: at once for `news` and at the session's end, otherwise at most every
 * minute of event time. Records the update time in `state` when it is.
 */
export function countUpdateDue(state: { updatedMs: number }, event: VigieEvent, tsMs: number, news: boolean): boolean {
  if (!news && event.kind !== 'session.end' && tsMs - state.updatedMs < COUNT_UPDATE_EVERY_MS) return false;
  state.updatedMs = tsMs;
  return true;
}
