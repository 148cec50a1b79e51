import type { Alert, CollectorHeartbeatEvent, SourceHealth } from '@vigie/contract';
import { formatLocal } from '@vigie/policy';
import { z } from 'zod';
import { alertId, type Evidence, eventMs, type RuleContext, type ExpectedCollector } from '../../engine/rule-api.js';
import { defineRuleType, type RuleBase } from '../rule-type.js';

const Params = z
  .object({
    silentAfterSeconds: z
      .number()
      .positive()
      .default(60)
      .describe('a collector with no heartbeat for this long is silent (keep it above its heartbeat period)'),
    unhealthyAfterSeconds: z
      .number()
      .positive()
      .default(60)
      .describe('a collector whose heartbeats say its source is failing for this long is blind'),
    renotifyHours: z
      .number()
      .positive()
      .default(24)
      .describe('an incident still true after this long is resolved and raised again (a daily reminder)'),
  })
  .strict();

type Condition = 'silent' | 'unhealthy' | 'never-started';

/** What the rule remembers of one collector instance. */
interface Watched {
  cluster: string;
  collector: string;
  instance: string;
  /** Event time of its last heartbeat (the collector's clock); undefined for one restored and not heard since. */
  lastMs: number | undefined;
  /** The detector's clock when that heartbeat arrived: silence is judged on it, whatever the collector's clock. */
  arrivedMs: number | undefined;
  lastEventId: string | undefined;
  health: SourceHealth | undefined;
}

/**
 * `collector-health`: a collector that was heard before (or is listed in the detector's configuration) and has
 * gone silent for `silentAfterSeconds`, or whose heartbeats say its source has been failing for
 * `unhealthyAfterSeconds` (alive but blind), or a listed collector that never sent a heartbeat. Silence is judged
 * on the clock `tick` is given: the wall clock live, event time in a replay, where a gap in the heartbeats of the
 * replayed stream is silence too (a replay of server logs has no heartbeats and raises nothing). One alert per
 * collector instance, resolved by its next healthy heartbeat.
 */
export const collectorHealth = defineRuleType(Params, (base, p) => {
  const silentMs = p.silentAfterSeconds * 1000;
  const unhealthyMs = p.unhealthyAfterSeconds * 1000;
  const watched = new Map<string, Watched>();
  /** Expected entries that a heartbeat has satisfied (by index in ctx.expectedCollectors). */
  const heard = new Set<number>();
  let startedMs: number | undefined;

  const idOf = (cluster: string, collector: string, instance: string) =>
    alertId(base.id, cluster, `${collector}/${instance}`);

  const matches = (e: ExpectedCollector, hb: CollectorHeartbeatEvent) =>
    e.cluster === hb.cluster &&
    e.collector === hb.collector &&
    (e.instance === undefined || e.instance === hb.instance);

  /**
   * `nowMs` is the detector's clock. A collector host whose clock is ahead would otherwise never look silent (a
   * blind dead-man switch), one behind would look silent all the time: both durations are measured on the
   * detector's clock, the failing time as the collector's own (its last heartbeat minus `since`) plus the time
   * since that heartbeat arrived.
   */
  function conditionOf(w: Watched, nowMs: number): Condition | undefined {
    if (w.lastMs === undefined || w.arrivedMs === undefined) return undefined;
    const sinceArrival = nowMs - w.arrivedMs;
    if (sinceArrival > silentMs) return 'silent';
    if (w.health?.state === 'failing' && w.lastMs - Date.parse(w.health.since) + sinceArrival >= unhealthyMs)
      return 'unhealthy';
    return undefined;
  }

  function apply(
    ctx: RuleContext,
    target: { cluster: string; collector: string; instance: string },
    condition: Condition | undefined,
    facts: Record<string, string | number | boolean>,
    evidence: Evidence,
  ): void {
    const id = idOf(target.cluster, target.collector, target.instance);
    const open = ctx.alerts.get(id);
    // Only changes reach the alert book: every heartbeat and every tick re-evaluate, and an update per evaluation
    // would be a new revision of the same incident every few seconds.
    const current = open?.alert.status === 'firing' ? String(open.facts['condition'] ?? 'restored') : undefined;
    if (condition === current) return;
    if (condition === undefined) {
      if (open !== undefined) {
        Object.assign(open.facts, facts, { condition: 'ok' });
        ctx.alerts.resolve(id, evidence);
      }
      return;
    }
    ctx.alerts.update(
      () => ({
        id,
        rule: base.id,
        title: base.title,
        severity: base.severity,
        cluster: target.cluster,
        who: {},
        where: { clientClass: 'unknown' },
        tags: [...base.tags],
        tsMs: evidence.tsMs,
        quietMs: p.renotifyHours * 3_600_000,
      }),
      id,
      (i) => {
        const before = i.facts['condition'];
        Object.assign(i.facts, facts, { condition });
        // Silent → alive but blind (or back) is news for on-call: emit even though no count changed.
        if (before !== undefined && before !== condition) i.emitted = undefined;
      },
      evidence,
    );
  }

  const factsOf = (w: Watched): Record<string, string | number | boolean> => ({
    collector: w.collector,
    instance: w.instance,
    ...(w.lastMs !== undefined && { lastHeartbeatMs: w.lastMs }),
    ...(w.health?.state === 'failing' && { failingSinceMs: Date.parse(w.health.since) }),
    ...(w.health?.error !== undefined && { error: w.health.error }),
  });

  return {
    ...base,
    type: 'collector-health',
    kinds: ['collector.heartbeat'],
    scope: 'heartbeats',
    quietMs: p.renotifyHours * 3_600_000,
    onEvent(event, _session, ctx) {
      if (event.kind !== 'collector.heartbeat') return;
      const tsMs = eventMs(event);
      const key = `${event.cluster}/${event.collector}/${event.instance}`;
      let w = watched.get(key);
      if (w === undefined) {
        w = {
          cluster: event.cluster,
          collector: event.collector,
          instance: event.instance,
          lastMs: undefined,
          arrivedMs: undefined,
          lastEventId: undefined,
          health: undefined,
        };
        watched.set(key, w);
      }
      if (w.lastMs !== undefined && tsMs < w.lastMs) return; // a late duplicate says nothing new
      w.lastMs = tsMs;
      w.arrivedMs = ctx.arrivedMs;
      w.lastEventId = event.id;
      w.health = event.health;
      const evidence = { eventId: event.id, tsMs };
      apply(ctx, w, conditionOf(w, ctx.arrivedMs), factsOf(w), evidence);
      ctx.expectedCollectors.forEach((e, n) => {
        if (!matches(e, event) || heard.has(n)) return;
        heard.add(n);
        if (e.instance === undefined) {
          apply(
            ctx,
            { cluster: e.cluster, collector: e.collector, instance: '*' },
            undefined,
            { lastHeartbeatMs: tsMs },
            evidence,
          );
        }
      });
    },
    onTick(nowMs, ctx) {
      startedMs ??= nowMs;
      for (const w of watched.values()) {
        const condition = conditionOf(w, nowMs);
        apply(ctx, w, condition, factsOf(w), { eventId: w.lastEventId ?? `${base.id}:tick`, tsMs: nowMs });
      }
      if (nowMs - startedMs <= silentMs) return;
      ctx.expectedCollectors.forEach((e, n) => {
        if (heard.has(n)) return;
        const instance = e.instance ?? '*';
        if (watched.has(`${e.cluster}/${e.collector}/${instance}`)) return;
        apply(
          ctx,
          { cluster: e.cluster, collector: e.collector, instance },
          'never-started',
          { collector: e.collector, instance, sinceMs: startedMs ?? nowMs },
          { eventId: `${base.id}:${e.cluster}:${e.collector}:never-started`, tsMs: nowMs },
        );
      });
    },
    onRestore(alert) {
      // An incident still firing at the last stop: its collector was heard before, so it is expected again.
      const entity = alert.id.slice(`${base.id}:${alert.cluster}:`.length);
      const slash = entity.indexOf('/');
      const instance = entity.slice(slash + 1);
      if (slash < 0 || instance === '*') return;
      const collector = entity.slice(0, slash);
      const key = `${alert.cluster}/${collector}/${instance}`;
      if (!watched.has(key)) {
        // Silence began at least `silentAfterSeconds` before the incident opened.
        const lastMs = Date.parse(alert.firstSeen) - silentMs;
        watched.set(key, {
          cluster: alert.cluster,
          collector,
          instance,
          lastMs,
          arrivedMs: lastMs,
          lastEventId: undefined,
          health: undefined,
        });
      }
    },
    summarize: (alert, facts, timeZone) => summarizeCollector(alert, facts, timeZone, base),
  };
});

function summarizeCollector(
  alert: Alert,
  facts: Record<string, string | number | boolean>,
  timeZone: string,
  base: RuleBase,
): string {
  const collector = String(facts['collector'] ?? alert.id.slice(base.id.length + alert.cluster.length + 2));
  const instance =
    facts['instance'] === undefined || facts['instance'] === '*' ? '' : ` (${String(facts['instance'])})`;
  const name = `${collector}${instance} of cluster ${alert.cluster}`;
  const at = (key: string) =>
    typeof facts[key] === 'number' ? formatLocal(facts[key], timeZone, true) : 'an unknown time';
  switch (facts['condition']) {
    case 'silent':
      return `${name} has sent no heartbeat since ${at('lastHeartbeatMs')}: what it watches is not watched (stopped, crashed, or cut off from Kafka)`;
    case 'unhealthy':
      return `${name} is alive but cannot read its source since ${at('failingSinceMs')} (${String(facts['error'] ?? 'no error code')}): it is blind`;
    case 'never-started':
      return `${collector} of cluster ${alert.cluster} is expected (detector configuration) but no heartbeat has arrived since ${at('sinceMs')}`;
    case 'ok':
      return `${name} is reading again (heartbeat at ${at('lastHeartbeatMs')})`;
    default:
      return `${name}: collector health`;
  }
}
