import type { AuditSettingsEvent, LogGapEvent, SettingChange, SqlAnalysis, VigieEvent } from '@vigie/contract';
import { patternMatcher } from '@vigie/policy';
import { z } from 'zod';
import { addObjects, alertId, eventMs, type RuleContext, type SessionState } from '../../engine/rule-api.js';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, sessionlessSeed, sessionSeed } from './common.js';

const Params = z
  .object({
    settings: z
      .array(z.string().min(1))
      .default([
        'pgaudit.*',
        'log_*',
        'logging_collector',
        'shared_preload_libraries',
        'session_preload_libraries',
        'local_preload_libraries',
        'wal_level',
        'all',
      ])
      .describe(
        'setting names (patterns) whose change is tampering; all = RESET ALL outside a session; add ? for set_config with a computed name (pg_dump runs one, set_config(name, …) FROM pg_settings, on every dump)',
      ),
    extensions: z.array(z.string().min(1)).default(['pgaudit']).describe('extensions whose DROP is tampering'),
    reloadWindowMinutes: z
      .number()
      .positive()
      .default(60)
      .describe('pg_reload_conf() this long after an ALTER SYSTEM of a watched setting marks that change applied'),
    quietMinutes: z.number().positive().default(60).describe('a session or log incident resolves after this long'),
  })
  .strict();

/** How a change is named in an alert: the statement form, so on-call can search the log for it. */
function changeLabel(c: SettingChange): string {
  const verb = c.reset === true ? 'RESET' : 'SET';
  switch (c.scope) {
    case 'session':
      return `${verb} ${c.name}`;
    case 'local':
      return `${verb} LOCAL ${c.name}`;
    case 'system':
      return c.reset === true ? `ALTER SYSTEM RESET ${c.name}` : `ALTER SYSTEM ${c.name}`;
    case 'role':
      return `ALTER ROLE … ${verb} ${c.name}`;
    case 'database':
      return `ALTER DATABASE … ${verb} ${c.name}`;
    case 'function':
      return `FUNCTION … ${verb} ${c.name}`;
  }
}

const RELOAD = new Set(['pg_reload_conf', 'pg_catalog.pg_reload_conf']);

/** Exact byte counts: an investigator compares them with the file. */
const bytes = (n: unknown) => `${Number(n ?? 0).toLocaleString('en-US')} bytes`;

/**
 * `audit-tampering`: changes that blind Vigie or the audit trail. From the log: `ALTER SYSTEM`, `ALTER ROLE|DATABASE
 * … SET`, `ALTER|CREATE FUNCTION … SET`, `SET` (pgaudit logs it when it still audits `misc`; log_statement always)
 * and `set_config()` of a watched setting, `pg_reload_conf()` after such an `ALTER SYSTEM`, `DROP EXTENSION
 * pgaudit` — one incident per session, naming each setting. From collector-pglog: the server's effective settings
 * drifted (`audit.settings`; one incident per cluster, resolved by a clean check), and a log file shrank or vanished
 * before it was read to its end (`log.gap`; one incident per file).
 */
export const auditTampering = defineRuleType(Params, (base, p) => {
  const watched = patternMatcher(p.settings);
  const extensions = patternMatcher(p.extensions);
  const quietMs = p.quietMinutes * 60_000;
  const reloadMs = p.reloadWindowMinutes * 60_000;
  /** Per cluster: the last ALTER SYSTEM of a watched setting (incident, time, who) for pg_reload_conf and drift. */
  const lastSystemChange = new Map<string, { id: string; tsMs: number; by: string }>();

  function tamperedObjects(sql: SqlAnalysis): string[] {
    const out: string[] = [];
    for (const c of sql.settings ?? []) {
      // A session RESET returns to the server's value: it restores auditing, it does not remove it.
      if ((c.scope === 'session' || c.scope === 'local') && c.reset === true) continue;
      if (c.name === 'all' && (c.scope === 'session' || c.scope === 'local')) continue;
      if (!watched(c.name)) continue;
      out.push(c.name === '?' ? 'set_config(<computed name>)' : changeLabel(c));
    }
    for (const x of sql.droppedExtensions ?? []) if (extensions(x)) out.push(`DROP EXTENSION ${x}`);
    return out;
  }

  function onStatement(
    event: Extract<VigieEvent, { kind: 'statement' | 'statement.logged' }>,
    session: SessionState,
    ctx: RuleContext,
  ): void {
    const tsMs = eventMs(event);
    const objects = tamperedObjects(event.sql);
    const evidence = { eventId: event.id, tsMs, statement: event.sql.redacted };
    if (objects.length > 0) {
      const id = alertId(base.id, session.cluster, session.id);
      ctx.alerts.update(
        sessionSeed(base, session, ctx, event, { id, severity: base.severity, quietMs }),
        id,
        (i) => {
          const before = i.alert.what.objects?.length ?? 0;
          addObjects(i.alert, objects);
          if ((i.alert.what.objects?.length ?? 0) > before) i.news = true;
          if (session.effectiveRole !== undefined) i.alert.who.effectiveRole = session.effectiveRole;
          i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
        },
        evidence,
      );
      if ((event.sql.settings ?? []).some((c) => c.scope === 'system' && watched(c.name))) {
        const alert = ctx.alerts.get(id)?.alert;
        if (alert !== undefined)
          lastSystemChange.set(session.cluster, { id, tsMs, by: `${byWhom(alert)} ${fromWhere(alert)}` });
      }
    }
    // The ALTER SYSTEM above is only in postgresql.auto.conf until a reload (or restart) applies it.
    if (event.sql.functions.some((f) => RELOAD.has(f))) {
      const change = lastSystemChange.get(session.cluster);
      if (change === undefined || tsMs - change.tsMs > reloadMs || tsMs < change.tsMs) return;
      ctx.alerts.update(
        sessionSeed(base, session, ctx, event, { id: change.id, severity: base.severity, quietMs }),
        change.id,
        (i) => {
          const before = i.alert.what.objects?.length ?? 0;
          addObjects(i.alert, ['pg_reload_conf()']);
          if ((i.alert.what.objects?.length ?? 0) > before) i.news = true;
          i.facts['applied'] = true;
          i.facts['reloadedBy'] = session.login ?? '?';
        },
        evidence,
      );
    }
  }

  function onDrift(event: AuditSettingsEvent, ctx: RuleContext): void {
    const id = alertId(base.id, event.cluster, 'settings');
    const evidence = { eventId: event.id, tsMs: eventMs(event) };
    if (event.drift.length === 0) {
      ctx.alerts.resolve(id, evidence);
      return;
    }
    const current = event.drift.map((d) => {
      const where =
        d.scope === 'server'
          ? 'server'
          : [d.role && `role ${d.role}`, d.database && `database ${d.database}`].filter(Boolean).join(', ');
      return `${d.setting} = ${d.found} (${where})`;
    });
    const change = lastSystemChange.get(event.cluster);
    ctx.alerts.update(
      sessionlessSeed(base, event, { id, severity: base.severity, quietMs: 24 * 60 * 60_000 }),
      id,
      (i) => {
        const before = i.alert.what.objects?.length ?? 0;
        addObjects(i.alert, current);
        if ((i.alert.what.objects?.length ?? 0) > before) i.news = true;
        i.facts['drift'] = current.join('; ');
        if (change !== undefined && eventMs(event) - change.tsMs <= reloadMs) i.facts['lastChange'] = change.by;
      },
      evidence,
    );
  }

  function onGap(event: LogGapEvent, ctx: RuleContext): void {
    const id = alertId(base.id, event.cluster, `log:${event.file}`);
    ctx.alerts.update(
      sessionlessSeed(base, event, { id, severity: base.severity, quietMs }),
      id,
      (i) => {
        addObjects(i.alert, [event.file]);
        // Each gap is news (they are rare): a file cut, then deleted, is told twice.
        i.news = true;
        i.facts['gap'] = event.reason;
        i.facts['readBytes'] = event.readBytes;
        i.facts['unreadBytes'] = event.unreadBytes;
        if (event.knownBytes !== undefined) i.facts['knownBytes'] = event.knownBytes;
        if (event.sizeNow !== undefined) i.facts['sizeNow'] = event.sizeNow;
        i.alert.what.bytes = Math.max(i.alert.what.bytes ?? 0, event.unreadBytes);
      },
      { eventId: event.id, tsMs: eventMs(event) },
    );
  }

  return {
    ...base,
    type: 'audit-tampering',
    kinds: ['statement', 'statement.logged', 'audit.settings', 'log.gap'],
    quietMs,
    onEvent(event, session, ctx) {
      switch (event.kind) {
        case 'statement':
        case 'statement.logged':
          if (session !== undefined) onStatement(event, session, ctx);
          return;
        case 'audit.settings':
          onDrift(event, ctx);
          return;
        case 'log.gap':
          onGap(event, ctx);
          return;
        default:
          return;
      }
    },
    summarize(alert, facts, timeZone) {
      const objects = alert.what.objects ?? [];
      if (facts['drift'] !== undefined || alert.id.endsWith(':settings')) {
        const last = facts['lastChange'] === undefined ? '' : `; last ALTER SYSTEM ${String(facts['lastChange'])}`;
        if (alert.status === 'resolved') {
          return `audit settings of ${alert.cluster} restored after drift: ${objects.join('; ')}${last} (first seen ${atWhen(alert, timeZone)})`;
        }
        return `audit settings of ${alert.cluster} no longer audit what Vigie needs: ${String(facts['drift'] ?? objects.join('; '))}${last} (first seen ${atWhen(alert, timeZone)})`;
      }
      if (facts['gap'] !== undefined) {
        const file = objects[0] ?? '?';
        const read = bytes(facts['readBytes']);
        const lost = Number(facts['unreadBytes'] ?? 0);
        const tail = lost > 0 ? `: ${bytes(lost)} never read` : '';
        switch (facts['gap']) {
          case 'truncated':
            return `log file ${file} was cut to ${bytes(facts['sizeNow'])} after Vigie read ${read}${tail} (${atWhen(alert, timeZone)})`;
          case 'missing':
            return `log file ${file} vanished while the collector was stopped, after it had read ${read}: what followed is unknown (${atWhen(alert, timeZone)})`;
          default:
            return lost > 0
              ? `log file ${file} was deleted before Vigie read it to its end${tail} (${atWhen(alert, timeZone)})`
              : `log file ${file} was deleted while in use: Vigie read it to its end (${read}), the server no longer has it (${atWhen(alert, timeZone)})`;
        }
      }
      const applied = facts['applied'] === true ? ', applied by pg_reload_conf()' : '';
      const what = objects.filter((o) => o !== 'pg_reload_conf()').join(', ');
      return `audit tampering: ${what}${applied} ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}`;
    },
  };
});
