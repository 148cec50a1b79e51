import type { Alert, ChangeTxnEvent, Severity } from '@vigie/contract';
import { z } from 'zod';
import {
  alertId,
  maxSeverity,
  type IncidentSeed,
  eventMs,
  createRecentMap,
  type RuleContext,
  type SessionState,
} from '../../engine/rule-api.js';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, humanCount, qualify, sessionSeed, sessionlessSeed } from './common.js';

const FindingType = z.enum(['nir', 'iban', 'email', 'phone_fr']);
/** Identifiers whose checksum makes a false positive unlikely: real data, not a realistic fake. */
const STRONG = new Set(['nir', 'iban']);
const DAY_MS = 24 * 3600_000;

/** Findings of one table: total values, whether a checksummed type is among them, counts per `column:type`. */
interface TableFindings {
  count: number;
  strong: boolean;
  columns: Map<string, number>;
}

const Params = z
  .object({
    types: z.array(FindingType).default(['nir', 'iban', 'email', 'phone_fr']).describe('finding types that count'),
    minValues: z
      .number()
      .int()
      .positive()
      .default(1)
      .describe('values of those types written to one table (per day) before alerting'),
    weakTypesSeverity: z
      .enum(['info', 'warning', 'critical'])
      .default('warning')
      .describe('severity when only e-mail addresses / phone numbers were found (test data often holds fake ones)'),
    quietMinutes: z.number().positive().default(60).describe('resolve after this long without new findings'),
  })
  .strict();

/**
 * `personal-data-in-preprod`: a `change.txn` whose row images (scanned inside the replication collector) hold
 * real-looking personal data, on a cluster the policy marks `pre-production`. One incident per cluster, table and
 * UTC day; the alert lists columns, types and counts, never values (the event carries none).
 */
export const personalDataInPreprod = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const types = new Set<string>(p.types);
  const pending = createRecentMap<TableFindings>({ maxKeys: 10_000, maxAgeMs: DAY_MS });

  function seedOf(
    event: ChangeTxnEvent,
    session: SessionState | undefined,
    ctx: RuleContext,
    id: string,
    severity: Severity,
  ): () => IncidentSeed {
    // Named when the engine joined the transaction to the session that wrote it (pgaudit txid).
    if (session !== undefined) {
      const seed = sessionSeed(base, session, ctx, event, { id, severity, quietMs });
      return () => ({ ...seed(), sessionKey: undefined });
    }
    return sessionlessSeed(base, event, { id, severity, quietMs });
  }

  return {
    ...base,
    type: 'personal-data-in-preprod',
    kinds: ['change.txn'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'change.txn' || event.personalData === undefined) return;
      if (ctx.policy.environmentOf(event.cluster) !== 'pre-production') return;
      const byTable = new Map<string, TableFindings>();
      for (const f of event.personalData) {
        if (!types.has(f.type)) continue;
        const table = qualify(f.table);
        let t = byTable.get(table);
        if (t === undefined) {
          t = { count: 0, strong: false, columns: new Map() };
          byTable.set(table, t);
        }
        t.count += f.count;
        t.strong ||= STRONG.has(f.type);
        const col = `${f.column}:${f.type}`;
        t.columns.set(col, (t.columns.get(col) ?? 0) + f.count);
      }
      const tsMs = eventMs(event);
      const day = Math.floor(tsMs / DAY_MS) * DAY_MS;
      for (const [table, t] of byTable) {
        const id = alertId(base.id, event.cluster, table, day);
        // Below minValues, counts add up over the day (a load in many small transactions) until they pass it.
        if (ctx.alerts.get(id)?.alert.status !== 'firing') {
          const before = pending.get(id, tsMs);
          if (before !== undefined) {
            t.count += before.count;
            t.strong ||= before.strong;
            for (const [col, n] of before.columns) t.columns.set(col, (t.columns.get(col) ?? 0) + n);
          }
          if (t.count < p.minValues) {
            pending.set(id, t, tsMs);
            continue;
          }
          pending.delete(id);
        }
        const severity = t.strong ? base.severity : p.weakTypesSeverity;
        ctx.alerts.update(
          seedOf(event, session, ctx, id, severity),
          id,
          (i) => {
            const a = i.alert;
            a.severity = maxSeverity(a.severity, severity);
            if (!a.what.tables.includes(table)) a.what.tables.push(table);
            a.what.rows = (a.what.rows ?? 0) + t.count;
            const before = Object.keys(i.facts).length;
            for (const [col, n] of t.columns) i.facts[col] = Number(i.facts[col] ?? 0) + n;
            // A new column or type is news even when the count grew less than the update step.
            if (Object.keys(i.facts).length !== before) i.emitted = undefined;
          },
          { eventId: event.id, tsMs },
        );
      }
    },
    onTick(nowMs) {
      pending.prune(nowMs);
    },
    summarize: summarizePreprod,
  };
});

const TYPE_NAMES: Record<string, string> = {
  nir: 'NIR with a valid key',
  iban: 'IBAN with a valid checksum',
  email: 'e-mail address',
  phone_fr: 'French phone number',
};

function summarizePreprod(alert: Alert, facts: Record<string, string | number | boolean>, timeZone: string): string {
  const columns = Object.entries(facts)
    .filter(([k]) => k.includes(':'))
    .map(([k, n]) => {
      const [column, type] = k.split(':') as [string, string];
      return `column ${column}: ${humanCount(Number(n))} × ${TYPE_NAMES[type] ?? type}`;
    });
  const table = alert.what.tables.join(', ');
  const detail = columns.length > 0 ? columns.join(', ') : `${humanCount(alert.what.rows ?? 0)} values`;
  const who = alert.who.login === undefined ? '' : ` ${byWhom(alert)}`;
  return `real-looking personal data written to ${table} on pre-production cluster ${alert.cluster} (${detail})${who}, first ${atWhen(alert, timeZone)}`;
}
