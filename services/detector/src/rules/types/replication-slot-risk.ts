import type { Alert, PublicationStatusEvent, Severity, SlotStatusEvent } from '@vigie/contract';
import { z } from 'zod';
import { alertId, maxSeverity, eventMs, type RuleContext } from '../../engine/rule-api.js';
import { defineRuleType, type RuleBase } from '../rule-type.js';
import { humanBytes } from './common.js';

const Params = z
  .object({
    retainedWalBytes: z
      .number()
      .int()
      .positive()
      .default(5 * 1024 ** 3)
      .describe('WAL retained by one slot (current LSN − restart LSN) above which the primary disk is at risk'),
    retentionSeverity: z
      .enum(['info', 'warning', 'critical'])
      .default('warning')
      .describe('severity of retention alone (also for wal_status unreserved)'),
    lostSeverity: z
      .enum(['info', 'warning', 'critical'])
      .default('critical')
      .describe('severity of a lost slot (a permanent gap in change data)'),
    resolveAfterMinutes: z
      .number()
      .positive()
      .default(10)
      .describe('a slot or publication no longer reported (dropped) resolves after this long without events'),
  })
  .strict();

type Condition = 'unknown' | 'lost' | 'retention';

/**
 * `replication-slot-risk`: one incident per slot (`…:slot:<name>`) or publication (`…:publication:<db>/<name>`)
 * that Vigie did not create and the policy does not list, a lost slot, or a slot retaining too much WAL. The
 * collector re-sends every slot at each poll: the incident is updated while a condition holds and resolved by the
 * first poll where none does.
 */
export const replicationSlotRisk = defineRuleType(Params, (base, p) => {
  const quietMs = p.resolveAfterMinutes * 60_000;

  function conditionsOf(e: SlotStatusEvent): Map<Condition, Severity> {
    const out = new Map<Condition, Severity>();
    if (!e.known) out.set('unknown', base.severity);
    if (e.walStatus === 'lost') out.set('lost', p.lostSeverity);
    else if (e.walStatus === 'unreserved' || (e.retainedWalBytes ?? 0) >= p.retainedWalBytes)
      out.set('retention', p.retentionSeverity);
    return out;
  }

  function apply(
    event: SlotStatusEvent | PublicationStatusEvent,
    ctx: RuleContext,
    id: string,
    conditions: Map<Condition, Severity>,
    facts: Record<string, string | number | boolean>,
    database?: string,
  ): void {
    const evidence = { eventId: event.id, tsMs: eventMs(event) };
    if (conditions.size === 0) {
      const open = ctx.alerts.get(id);
      if (open?.alert.status === 'firing') {
        Object.assign(open.facts, facts, { conditions: '' });
        if (event.kind === 'replication.slot' && event.retainedWalBytes !== undefined)
          open.alert.what.bytes = event.retainedWalBytes;
        ctx.alerts.resolve(id, evidence);
      }
      return;
    }
    const severity = [...conditions.values()].reduce(maxSeverity);
    ctx.alerts.update(
      () => ({
        id,
        rule: base.id,
        title: base.title,
        severity,
        cluster: event.cluster,
        database,
        who: {},
        where: { clientClass: 'unknown' },
        tags: [...base.tags],
        tsMs: evidence.tsMs,
        quietMs,
      }),
      id,
      (i) => {
        // A resolved-then-recurring risk starts again from what this poll says.
        i.alert.severity = i.alert.status === 'firing' ? maxSeverity(i.alert.severity, severity) : severity;
        const before = i.facts['conditions'];
        const now = [...conditions.keys()].join(',');
        Object.assign(i.facts, facts, { conditions: now });
        if (before !== undefined && before !== now) i.emitted = undefined; // a new condition is news
        if (event.kind === 'replication.slot' && event.retainedWalBytes !== undefined)
          i.alert.what.bytes = event.retainedWalBytes;
      },
      evidence,
    );
  }

  return {
    ...base,
    type: 'replication-slot-risk',
    kinds: ['replication.slot', 'replication.publication'],
    quietMs,
    onEvent(event, _session, ctx) {
      if (event.kind === 'replication.slot') {
        apply(event, ctx, alertId(base.id, event.cluster, `slot:${event.slot}`), conditionsOf(event), {
          target: 'slot',
          name: event.slot,
          slotType: event.slotType,
          plugin: event.plugin ?? '',
          active: event.active,
          walStatus: event.walStatus ?? '',
        });
      } else if (event.kind === 'replication.publication') {
        const conditions = new Map<Condition, Severity>(event.known ? [] : [['unknown', base.severity]]);
        apply(
          event,
          ctx,
          alertId(base.id, event.cluster, `publication:${event.database}/${event.publication}`),
          conditions,
          { target: 'publication', name: `${event.database}/${event.publication}`, allTables: event.allTables },
          event.database,
        );
      }
    },
    summarize: (alert, facts) => summarizeSlotRisk(alert, facts, p.retainedWalBytes, base),
  };
});

function summarizeSlotRisk(
  alert: Alert,
  facts: Record<string, string | number | boolean>,
  threshold: number,
  base: RuleBase,
): string {
  const conditions = new Set(String(facts['conditions'] ?? '').split(','));
  const name = String(facts['name'] ?? alert.id.slice(base.id.length + alert.cluster.length + 2));
  if (facts['target'] === 'publication') {
    const scope = facts['allTables'] === true ? 'FOR ALL TABLES' : 'for some tables';
    return `publication ${name} (${scope}) on ${alert.cluster} was not created by Vigie and is not listed in the policy: a subscriber could copy the data continuously`;
  }
  if (facts['target'] !== 'slot') return `replication slot or publication ${name} on ${alert.cluster} at risk`;
  const plugin = facts['plugin'] === '' ? '' : `, ${String(facts['plugin'])}`;
  const head = `${String(facts['slotType'])} replication slot ${name} on ${alert.cluster} (${facts['active'] === true ? 'active' : 'inactive'}${plugin})`;
  const risks: string[] = [];
  if (conditions.has('unknown'))
    risks.push('not created by Vigie nor listed in the policy: a continuous copy of the database may be leaving');
  if (conditions.has('lost'))
    risks.push(
      'LOST: a permanent gap in its change data; drop and recreate it, then investigate what changed meanwhile',
    );
  if (conditions.has('retention')) {
    const bytes = alert.what.bytes;
    risks.push(
      facts['walStatus'] === 'unreserved'
        ? 'WAL status unreserved: it is about to lose WAL it still needs'
        : `retains ${humanBytes(bytes ?? 0)} of WAL (threshold ${humanBytes(threshold)}): the primary's disk is filling`,
    );
  }
  if (risks.length === 0) return `${head}: back to normal`;
  return `${head}: ${risks.join('; ')}`;
}
