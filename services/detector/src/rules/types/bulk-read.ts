import {
  eventMs,
  addTables,
  alertId,
  maxSeverity,
  type RuleContext,
  type SessionState,
  createFirstSeen,
  createSlidingWindow,
  memoize,
} from '../../engine/rule-api.js';
import type { StatementEvent } from '@vigie/contract';
import { Severity } from '@vigie/contract';
import { networkMatcher } from '@vigie/policy';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import {
  actingRole,
  atWhen,
  byWhom,
  fromWhere,
  humanCount,
  personalTables,
  sessionSeed,
  severityByPlace,
  tableList,
} from './common.js';

const Window = (threshold: number, minutes: number) =>
  z
    .object({
      threshold: z.number().int().positive().default(threshold),
      windowMinutes: z.number().positive().default(minutes),
    })
    .prefault({});

const Params = z
  .object({
    noWhere: z.boolean().default(true).describe('a read of a personal-data table without WHERE takes the table'),
    limitIsNotBulk: z
      .boolean()
      .default(true)
      .describe('a read without WHERE but with LIMIT (a peek at a few rows) is not a bulk read'),
    rowsPerStatement: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('rows returned by one statement (when the server logs rows) that make it a bulk read'),
    sessionRows: Window(50_000, 10).describe('rows of personal data read by one session within the window'),
    enumeration: z
      .object({
        maxRowsPerLookup: z
          .number()
          .int()
          .positive()
          .default(10)
          .describe('a point lookup returns at most this many rows'),
        perSession: Window(500, 5).describe('point lookups by one session within the window'),
        perRole: Window(2_000, 10).describe('point lookups by one role (all its sessions) within the window'),
      })
      .prefault({})
      .describe('many point lookups: the "millions of simulated searches" of the 2024 breaches'),
    paging: z
      .object({
        rows: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('rows of personal data one role reads through paging queries (all its sessions) in the window'),
        pages: z
          .number()
          .int()
          .positive()
          .default(200)
          .describe('paging queries on personal data by one role in the window (counts when the server logs no rows)'),
        windowMinutes: z.number().positive().default(60),
      })
      .prefault({})
      .describe(
        'walking a table page by page (LIMIT/OFFSET, or keyset WHERE id > $1 ORDER BY id LIMIT n), summed per role across sessions',
      ),
    serviceAccounts: z
      .object({
        usualHosts: z
          .array(z.string())
          .default([])
          .describe('CIDRs of the application servers (lookups from there are normal)'),
        learningMinutes: z
          .number()
          .nonnegative()
          .default(1440)
          .describe('hosts a service account uses within this long after it is first seen count as usual'),
      })
      .prefault({})
      .describe('service accounts doing point lookups from their usual hosts are normal traffic'),
    outsideBastionSeverity: Severity.default('critical').describe('severity when the client is not the bastion'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without a new read'),
  })
  .strict();

interface ReadState {
  /** The session's alert id, made once: every read looks the incident up by it. */
  readonly id: string;
  rows: number;
  reads: number;
}

const isRead = (e: StatementEvent): boolean =>
  e.sql.kind === 'select' ||
  e.sql.kind === 'fetch' ||
  e.sql.kind === 'declare' ||
  (e.audit.class === 'READ' && e.sql.kind !== 'copy');

/**
 * `bulk-read`: reads of personal-data tables that take the table rather than a record (no WHERE, many rows in a
 * statement or a session window), and enumeration (many point lookups per session or per role). One alert per
 * session, or per role and window for enumeration across sessions.
 */
export const bulkRead = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const sessionRows = createSlidingWindow({ windowMs: p.sessionRows.windowMinutes * 60_000 });
  const sessionLookups = createSlidingWindow({ windowMs: p.enumeration.perSession.windowMinutes * 60_000 });
  const roleWindowMs = p.enumeration.perRole.windowMinutes * 60_000;
  const roleLookups = createSlidingWindow({ windowMs: roleWindowMs });
  // Asked for every point lookup of a service account: the few application hosts' answers are remembered.
  const usualHost = memoize(networkMatcher(p.serviceAccounts.usualHosts));
  const seen = createFirstSeen();
  const learningMs = p.serviceAccounts.learningMinutes * 60_000;
  const pagingWindowMs = p.paging.windowMinutes * 60_000;
  const pageRows = createSlidingWindow({ windowMs: pagingWindowMs });
  const pageCount = createSlidingWindow({ windowMs: pagingWindowMs });
  /**
   * Open role-level incident per `<kind>:cluster/role` (point lookups, paging), so a long enumeration stays one
   * alert.
   */
  const roleIncidents = new Map<string, string>();

  /** A service account at a host it has used since its learning period: its point lookups are its job. */
  function usualServiceTraffic(session: SessionState, role: string, tsMs: number, ctx: RuleContext): boolean {
    if (!ctx.policy.isServiceAccount(role)) return false;
    const host = session.clientAddr ?? 'local';
    if (session.clientClass === 'local' || usualHost(host)) return true;
    const roleFirst = seen.see(`${session.cluster}/${role}`, tsMs);
    const hostFirst = seen.see(`${session.cluster}/${role}@${host}`, tsMs);
    return tsMs - roleFirst < learningMs || hostFirst - roleFirst < learningMs;
  }

  function raiseSession(
    e: StatementEvent,
    session: SessionState,
    ctx: RuleContext,
    trigger: string,
    tables: string[],
    state: ReadState,
  ): void {
    const id = state.id;
    const severity = severityByPlace(base.severity, p.outsideBastionSeverity, session.clientClass);
    ctx.alerts.update(
      sessionSeed(base, session, ctx, e, { id, severity, quietMs }),
      id,
      (i) => {
        i.alert.severity = maxSeverity(i.alert.severity, severity);
        i.facts['trigger'] ??= trigger;
        if (trigger === 'no-where') i.facts['noWhere'] = true;
        addTables(i.alert, tables);
        if (state.rows > 0) i.alert.what.rows = Math.max(i.alert.what.rows ?? 0, state.rows);
        i.alert.what.statements = Math.max(i.alert.what.statements ?? 0, state.reads);
      },
      { eventId: e.id, tsMs: eventMs(e), statement: e.sql.redacted },
    );
  }

  /**
   * The role-level incident of one kind (`trigger`) for `key` (`cluster/role`): opened once `over`, then updated by
   * every later event of that kind while it fires. Keyed by the window start, so a later run is another alert.
   */
  function raiseRole(
    e: StatementEvent,
    session: SessionState,
    ctx: RuleContext,
    r: {
      trigger: 'role-enumeration' | 'role-paging';
      key: string;
      over: boolean;
      windowStart: () => number;
      windowMinutes: number;
      tables: string[];
      statements: number;
      rows: number | undefined;
    },
  ): void {
    const incidentKey = `${r.trigger}:${r.key}`;
    let id = roleIncidents.get(incidentKey);
    if (id !== undefined && ctx.alerts.get(id)?.alert.status !== 'firing') {
      roleIncidents.delete(incidentKey);
      id = undefined;
    }
    if (id === undefined && !r.over) return;
    const role = r.key.slice(session.cluster.length + 1);
    if (id === undefined) {
      const entity = r.trigger === 'role-paging' ? `role-paging/${role}` : `role/${role}`;
      id = alertId(base.id, session.cluster, entity, r.windowStart());
      roleIncidents.set(incidentKey, id);
    }
    const severity = severityByPlace(base.severity, p.outsideBastionSeverity, session.clientClass);
    const seed = sessionSeed(base, session, ctx, e, { id, severity, quietMs: r.windowMinutes * 60_000 });
    ctx.alerts.update(
      () => ({ ...seed(), sessionId: undefined, sessionKey: undefined }),
      id,
      (i) => {
        i.alert.severity = maxSeverity(i.alert.severity, severity);
        i.facts['trigger'] = r.trigger;
        i.facts['windowMinutes'] = r.windowMinutes;
        addTables(i.alert, r.tables);
        i.alert.what.statements = Math.max(i.alert.what.statements ?? 0, r.statements);
        if (r.rows !== undefined) i.alert.what.rows = (i.alert.what.rows ?? 0) + r.rows;
      },
      { eventId: e.id, tsMs: eventMs(e), statement: e.sql.redacted },
    );
  }

  return {
    ...base,
    type: 'bulk-read',
    kinds: ['statement'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'statement' || session === undefined || !isRead(event)) return;
      // A session claimed by another rule (a dump) is that rule's incident: one alert, not one per table read.
      if (ctx.claimed(session.key)) return;
      const tables = personalTables(event, ctx.policy);
      if (tables.length === 0) return;
      const tsMs = eventMs(event);
      let state = session.rules.get(base.id) as ReadState | undefined;
      if (state === undefined) {
        state = { id: alertId(base.id, session.cluster, session.id), rows: 0, reads: 0 };
        session.rules.set(base.id, state);
      }
      const rows = event.audit.rows;
      state.reads += 1;
      if (rows !== undefined) state.rows += rows;
      const existing = ctx.alerts.get(state.id);
      const sql = event.sql;
      // `SELECT count(*) FROM citizens` says how many, not who: no row of the table leaves. (With a WHERE it is
      // still a lookup below: `count(*) … WHERE nir = $1` a million times tells who exists.)
      if (p.noWhere && !sql.hasWhere && !(p.limitIsNotBulk && sql.hasLimit) && sql.countOnly !== true) {
        raiseSession(event, session, ctx, 'no-where', tables, state);
        return;
      }
      if (rows !== undefined && rows >= p.rowsPerStatement) {
        raiseSession(event, session, ctx, 'rows', tables, state);
        return;
      }
      if (rows !== undefined && rows > 0 && sessionRows.add(session.key, tsMs, rows) >= p.sessionRows.threshold) {
        raiseSession(event, session, ctx, 'session-rows', tables, state);
        return;
      }
      if (existing !== undefined && existing.alert.status === 'firing') {
        // The session already has an incident: later reads update it (rows, tables) within its bounds.
        raiseSession(event, session, ctx, 'update', tables, state);
        return;
      }
      const role = actingRole(session);
      if (sql.paging !== undefined) {
        if (role === undefined || usualServiceTraffic(session, role, tsMs, ctx)) return;
        const roleKey = `${session.cluster}/${role}`;
        const pages = pageCount.add(roleKey, tsMs);
        const pagedRows = rows === undefined ? pageRows.total(roleKey, tsMs) : pageRows.add(roleKey, tsMs, rows);
        raiseRole(event, session, ctx, {
          trigger: 'role-paging',
          key: roleKey,
          over: pages >= p.paging.pages || pagedRows >= p.paging.rows,
          windowStart: () => pageCount.windowStart(roleKey, tsMs) ?? tsMs,
          windowMinutes: p.paging.windowMinutes,
          tables,
          statements: pages,
          rows,
        });
        return;
      }
      const isLookup = sql.hasWhere && (rows === undefined || rows <= p.enumeration.maxRowsPerLookup);
      if (!isLookup || role === undefined || usualServiceTraffic(session, role, tsMs, ctx)) return;
      if (sessionLookups.add(session.key, tsMs) >= p.enumeration.perSession.threshold) {
        raiseSession(event, session, ctx, 'enumeration', tables, state);
        return;
      }
      const roleKey = `${session.cluster}/${role}`;
      const count = roleLookups.add(roleKey, tsMs);
      raiseRole(event, session, ctx, {
        trigger: 'role-enumeration',
        key: roleKey,
        over: count >= p.enumeration.perRole.threshold,
        windowStart: () => roleLookups.windowStart(roleKey, tsMs) ?? tsMs,
        windowMinutes: p.enumeration.perRole.windowMinutes,
        tables,
        statements: count,
        rows,
      });
    },
    onTick(nowMs) {
      sessionRows.prune(nowMs);
      sessionLookups.prune(nowMs);
      roleLookups.prune(nowMs);
      pageRows.prune(nowMs);
      pageCount.prune(nowMs);
    },
    summarize(alert, facts, timeZone) {
      const tail = `${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}`;
      const tables = tableList(alert.what.tables);
      const rows = alert.what.rows !== undefined ? `${humanCount(alert.what.rows)} rows` : 'rows not logged';
      const stmts = humanCount(alert.what.statements ?? 0);
      switch (facts['trigger']) {
        case 'role-paging':
          return `enumeration by paging: ${stmts} pages (${rows}) of ${tables} across sessions within ${String(facts['windowMinutes'])} min ${tail}`;
        case 'role-enumeration':
          return `enumeration: ${stmts} point lookups on ${tables} within ${String(facts['windowMinutes'])} min ${tail}`;
        case 'enumeration':
          return `enumeration: ${stmts} point lookups on ${tables} in one session ${tail}`;
        case 'no-where':
          return `whole-table read of ${tables} (no WHERE; ${rows}) ${tail}`;
        default:
          return `bulk read of ${tables} (${rows} in ${stmts} statements) ${tail}`;
      }
    },
  };
});
