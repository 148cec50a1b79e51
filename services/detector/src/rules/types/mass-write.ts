import type { Alert, ChangeTxnEvent, Severity, StatementEvent } from '@vigie/contract';
import { z } from 'zod';
import {
  alertId,
  maxSeverity,
  type IncidentSeed,
  eventMs,
  createRecentMap,
  createSlidingWindow,
  type RuleContext,
  type SessionState,
} from '../../engine/rule-api.js';
import { defineRuleType } from '../rule-type.js';
import {
  actingRole,
  atWhen,
  byWhom,
  fromWhere,
  humanCount,
  isPrivilegedSession,
  qualify,
  sessionSeed,
  sessionlessSeed,
} from './common.js';

const Params = z
  .object({
    perTransaction: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe('rows of personal-data tables updated or deleted by one transaction'),
    perSession: z
      .object({
        threshold: z.number().int().positive().default(5000),
        windowMinutes: z.number().positive().default(10),
      })
      .prefault({})
      .describe('rows of personal-data tables updated or deleted by one session within the window (needs the log)'),
    countTruncate: z.boolean().default(true).describe('a TRUNCATE of a personal-data table counts as the whole table'),
    annotatedSeverity: z
      .enum(['info', 'warning', 'critical'])
      .default('info')
      .describe('severity of a write the bastion annotated (operator, ticket) when nothing places it outside'),
    outsideBastionSeverity: z
      .enum(['info', 'warning', 'critical'])
      .default('critical')
      .describe('severity when the writing session is known and not on the bastion'),
    annotationPrefix: z
      .string()
      .default('vigie')
      .describe('logical messages whose prefix starts with this are bastion annotations'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without a new write'),
  })
  .strict();

/** What one transaction did to personal-data tables. */
interface TxnWrites {
  rows: number;
  updated: number;
  deleted: number;
  tables: string[];
  truncated: string[];
}

function personalWrites(event: ChangeTxnEvent, ctx: RuleContext, countTruncate: boolean): TxnWrites {
  const out: TxnWrites = { rows: 0, updated: 0, deleted: 0, tables: [], truncated: [] };
  for (const t of event.tables) {
    const name = qualify(t.table);
    if (!ctx.policy.isPersonalDataTable(name)) continue;
    const truncated = countTruncate && t.truncate > 0;
    if (t.update + t.delete === 0 && !truncated) continue;
    out.tables.push(name);
    out.updated += t.update;
    out.deleted += t.delete;
    out.rows += t.update + t.delete;
    if (truncated) out.truncated.push(name);
  }
  return out;
}

/** `operator=alice ticket=OPS-123` from the bastion's logical messages, when there are any. */
function annotationOf(event: ChangeTxnEvent, prefix: string): string | undefined {
  const texts = event.messages.filter((m) => m.prefix.startsWith(prefix)).map((m) => m.content.trim());
  return texts.length === 0 ? undefined : texts.join('; ').slice(0, 200);
}

function operatorOf(annotation: string | undefined): string | undefined {
  return annotation === undefined ? undefined : /\boperator=([^\s;,]+)/.exec(annotation)?.[1];
}

/**
 * `mass-write`: one transaction (or one session within a window) updating or deleting many rows of personal-data
 * tables, read from the WAL's `change.txn`. The engine hands the rule the session whose write statement carried
 * the transaction's id (pgaudit `txid`); without it the alert is keyed by the transaction and named later if the
 * statement arrives after the WAL summary.
 */
export const massWrite = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const sessionRows = createSlidingWindow({ windowMs: p.perSession.windowMinutes * 60_000 });
  // `<cluster>/<xid>` → alert raised without a session, so a late write statement can still name who did it.
  const unattributed = createRecentMap<string>({ maxKeys: 10_000, maxAgeMs: 10 * 60_000 });

  function severityOf(session: SessionState | undefined, annotated: boolean): Severity {
    if (session !== undefined && session.clientClass !== 'bastion') return p.outsideBastionSeverity;
    return annotated ? p.annotatedSeverity : base.severity;
  }

  function txnSeed(event: ChangeTxnEvent, id: string, severity: Severity): () => IncidentSeed {
    return sessionlessSeed(base, event, { id, severity, quietMs });
  }

  function onChange(event: ChangeTxnEvent, session: SessionState | undefined, ctx: RuleContext): void {
    const w = personalWrites(event, ctx, p.countTruncate);
    if (w.tables.length === 0) return;
    const tsMs = eventMs(event);
    // Per-session sums over the window: rows, and for the summary updates, deletes and transactions.
    const windowTotal = session === undefined ? w.rows : sessionRows.add(session.key, tsMs, w.rows);
    const inWindow =
      session === undefined
        ? { updated: w.updated, deleted: w.deleted, transactions: 1 }
        : {
            updated: sessionRows.add(`${session.key}/u`, tsMs, w.updated),
            deleted: sessionRows.add(`${session.key}/d`, tsMs, w.deleted),
            transactions: sessionRows.add(`${session.key}/t`, tsMs, 1),
          };
    const id =
      session === undefined
        ? alertId(base.id, event.cluster, `xid:${event.xid}`)
        : alertId(base.id, event.cluster, session.id);
    const open = ctx.alerts.get(id)?.alert.status === 'firing';
    const big = w.rows >= p.perTransaction || w.truncated.length > 0;
    if (!open && !big && (session === undefined || windowTotal < p.perSession.threshold)) return;
    const annotation = annotationOf(event, p.annotationPrefix);
    const severity = severityOf(session, annotation !== undefined);
    const seed =
      session === undefined
        ? txnSeed(event, id, severity)
        : sessionSeed(base, session, ctx, event, { id, severity, quietMs });
    ctx.alerts.update(
      seed,
      id,
      (i) => {
        const a = i.alert;
        a.severity = maxSeverity(a.severity, severity);
        // The first sighting counts the whole window (earlier small transactions led up to it); later ones add.
        const f = i.facts;
        if (a.what.rows === undefined) {
          a.what.rows = windowTotal;
          f['updated'] = inWindow.updated;
          f['deleted'] = inWindow.deleted;
          f['transactions'] = inWindow.transactions;
        } else {
          a.what.rows += w.rows;
          f['updated'] = Number(f['updated'] ?? 0) + w.updated;
          f['deleted'] = Number(f['deleted'] ?? 0) + w.deleted;
          f['transactions'] = Number(f['transactions'] ?? 0) + 1;
        }
        for (const t of w.tables) if (!a.what.tables.includes(t)) a.what.tables.push(t);
        if (w.truncated.length > 0) {
          const before = typeof f['truncated'] === 'string' ? f['truncated'].split(', ') : [];
          f['truncated'] = [...new Set([...before, ...w.truncated])].join(', ');
        }
        if (annotation !== undefined) {
          f['annotation'] = annotation;
          const operator = operatorOf(annotation);
          if (operator !== undefined) a.who.operator = operator;
        }
      },
      { eventId: event.id, tsMs },
    );
    if (session === undefined) unattributed.set(`${event.cluster}/${event.xid}`, id, tsMs);
  }

  /** A write statement arriving after its transaction's WAL summary: name the session on the alert. */
  function onStatement(event: StatementEvent, session: SessionState, ctx: RuleContext): void {
    const key = `${event.cluster}/${event.txid ?? ''}`;
    const id = unattributed.get(key, eventMs(event));
    if (id === undefined) return;
    unattributed.delete(key);
    const incident = ctx.alerts.get(id);
    if (incident === undefined) return;
    const annotated = incident.facts['annotation'] !== undefined;
    ctx.alerts.update(
      // Never called: the incident exists (checked above).
      () => {
        throw new Error('mass-write: no incident to attribute');
      },
      id,
      (i) => {
        const a = i.alert;
        a.sessionId = session.id;
        if (session.database !== undefined) a.database = session.database;
        const operator = a.who.operator;
        a.who = {
          ...(session.login !== undefined && { login: session.login }),
          ...(actingRole(session) !== undefined && { effectiveRole: actingRole(session) }),
          ...(operator !== undefined && { operator }),
          privileged: isPrivilegedSession(session, ctx),
        };
        a.where = {
          clientClass: session.clientClass,
          ...(session.clientAddr !== undefined && { clientAddr: session.clientAddr }),
          ...(session.applicationName !== undefined && { applicationName: session.applicationName }),
        };
        a.severity = maxSeverity(a.severity, severityOf(session, annotated));
        // Who and where changed: always worth an update, even when no count or severity did.
        i.emitted = undefined;
      },
      { eventId: event.id, tsMs: eventMs(event), statement: event.sql.redacted },
    );
  }

  return {
    ...base,
    type: 'mass-write',
    kinds: ['change.txn', 'statement'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind === 'change.txn') onChange(event, session, ctx);
      else if (event.kind === 'statement' && session !== undefined && event.txid !== undefined && event.txid !== '0')
        onStatement(event, session, ctx);
    },
    onTick(nowMs) {
      sessionRows.prune(nowMs);
      unattributed.prune(nowMs);
    },
    summarize: summarizeMassWrite,
  };
});

function summarizeMassWrite(alert: Alert, facts: Record<string, string | number | boolean>, timeZone: string): string {
  const updated = Number(facts['updated'] ?? 0);
  const deleted = Number(facts['deleted'] ?? 0);
  const verb = updated > 0 && deleted > 0 ? 'updated or deleted' : updated > 0 ? 'updated' : 'deleted';
  const tables = alert.what.tables.join(', ');
  const txns = Number(facts['transactions'] ?? 1);
  const scope = txns > 1 ? `in ${txns} transactions` : 'in one transaction';
  const parts: string[] = [];
  const truncated = facts['truncated'];
  if (typeof truncated === 'string' && truncated !== '') parts.push(`TRUNCATE ${truncated}`);
  const rows = alert.what.rows ?? 0;
  if (rows > 0 || parts.length === 0) parts.push(`${humanCount(rows)} rows ${verb} from ${tables} ${scope}`);
  const who =
    alert.sessionId === undefined
      ? 'session unknown (the write was not seen in the log)'
      : `${byWhom(alert)} ${alert.where.clientClass === 'bastion' ? fromWhere(alert) : `outside the bastion (${alert.where.clientAddr ?? '?'})`}`;
  const annotation = facts['annotation'];
  const note = typeof annotation === 'string' ? ` (annotated: ${annotation})` : '';
  return `${parts.join('; ')}${note} ${who} ${atWhen(alert, timeZone)}`;
}
