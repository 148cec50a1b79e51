import { eventMs, alertId, maxSeverity, type RoleHistory } from '../../engine/rule-api.js';
import { Severity } from '@vigie/contract';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, isPrivilegedSession, sessionSeed } from './common.js';

const DAY_MS = 86_400_000;

const Params = z
  .object({
    dormantAfterDays: z
      .number()
      .positive()
      .default(90)
      .describe('a role not seen active for this long is dormant: its next login is an alert'),
    learningDays: z
      .number()
      .nonnegative()
      .default(30)
      .describe(
        'while Vigie remembers less than dormantAfterDays of activity, a role listed in the catalog this long and never seen counts as dormant (the alert says how old the history is); before that, never-seen roles are not judged',
      ),
    privilegedSeverity: Severity.default('critical').describe('severity when the role is privileged'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
  })
  .strict();

type Facts = Record<string, string | number>;

const days = (ms: number): number => Math.floor(ms / DAY_MS);
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * `dormant-account-login`: a login by a role that was not active for `dormantAfterDays` — by the store's last-seen
 * history, by the catalog (listed since Vigie's first catalog read and never seen: PostgreSQL keeps no role
 * creation time), or whose `rolvaliduntil` has passed (a login that password expiry should have prevented). Only
 * the login role counts, and any login (a dormant service account is as suspicious as a person's). While Vigie's
 * history is shorter than `dormantAfterDays` the alert says so.
 */
export const dormantAccount = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const dormantMs = p.dormantAfterDays * DAY_MS;
  const learningMs = p.learningDays * DAY_MS;
  /** `cluster/role` → last activity seen by this engine (newer than the history it started with). */
  const live = new Map<string, number>();
  /** `cluster` → first event time this engine saw: its own history when the store has none (a replay). */
  const watching = new Map<string, number>();

  /** Why this login is a dormant account's (the alert's facts), or undefined. */
  function dormancy(roles: RoleHistory, cluster: string, role: string, tsMs: number): Facts | undefined {
    const remembered = roles.since(cluster);
    const own = watching.get(cluster) ?? tsMs;
    const history = remembered === undefined ? own : Math.min(remembered, own);
    const key = `${cluster}/${role}`;
    const last = live.get(key) ?? roles.lastSeen(cluster, role);
    const listed = roles.catalog(cluster, role);
    const historyMs = tsMs - history;
    const learning: Facts = historyMs < dormantMs ? { historyDays: days(historyMs) } : {};
    if (listed?.validUntilMs !== undefined && tsMs >= listed.validUntilMs) {
      return { trigger: 'valid-until', validUntil: isoDay(listed.validUntilMs), ...learning };
    }
    if (last !== undefined) {
      return tsMs - last >= dormantMs
        ? { trigger: 'last-seen', idleDays: days(tsMs - last), lastSeen: isoDay(last), ...learning }
        : undefined;
    }
    if (listed === undefined) return undefined;
    const neverSeen = tsMs - listed.firstListedMs;
    if (neverSeen >= dormantMs || (neverSeen >= learningMs && historyMs >= learningMs)) {
      return {
        trigger: 'never-seen',
        idleDays: days(neverSeen),
        listedSince: isoDay(listed.firstListedMs),
        ...learning,
      };
    }
    return undefined;
  }

  return {
    ...base,
    type: 'dormant-account',
    kinds: ['session.start', 'statement'],
    quietMs,
    onEvent(event, session, ctx) {
      if (session === undefined || (event.kind !== 'session.start' && event.kind !== 'statement')) return;
      // A session is judged at its first event (its login, when Vigie saw it start) and counts as seen: later
      // events of it change nothing.
      if (session.rules.has(base.id)) return;
      session.rules.set(base.id, true);
      const role = session.login;
      if (role === undefined || ctx.policy.isVigieAccount(role)) return;
      const tsMs = eventMs(event);
      const key = `${session.cluster}/${role}`;
      if (!watching.has(session.cluster)) watching.set(session.cluster, tsMs);
      if (event.kind === 'session.start') {
        const why = dormancy(ctx.roles, session.cluster, role, tsMs);
        if (why !== undefined) {
          const privileged = isPrivilegedSession(session, ctx);
          const severity = privileged ? maxSeverity(base.severity, p.privilegedSeverity) : base.severity;
          const id = alertId(base.id, session.cluster, session.id);
          ctx.alerts.update(
            sessionSeed(base, session, ctx, event, { id, severity, quietMs }),
            id,
            (i) => {
              Object.assign(i.facts, why);
              i.facts['dormantAfterDays'] = p.dormantAfterDays;
            },
            { eventId: event.id, tsMs },
          );
        }
      }
      // Seen now: later logins of the role are not dormant (events can come slightly out of order).
      if ((live.get(key) ?? 0) < tsMs) live.set(key, tsMs);
    },
    summarize(alert, facts, timeZone) {
      const where = `${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}`;
      const learning =
        facts['historyDays'] === undefined
          ? ''
          : ` (learning period: last-seen history only ${String(facts['historyDays'])} days old, dormantAfterDays ${String(facts['dormantAfterDays'])})`;
      switch (facts['trigger']) {
        case 'valid-until':
          return `login ${where} although the role's password expired on ${String(facts['validUntil'])} (rolvaliduntil)${learning}`;
        case 'never-seen':
          return `login of a dormant account ${where}: never seen active in ${String(facts['idleDays'])} days (listed in the catalog since ${String(facts['listedSince'])})${learning}`;
        default:
          return `login of a dormant account ${where}: not seen for ${String(facts['idleDays'])} days (last seen ${String(facts['lastSeen'])})${learning}`;
      }
    },
  };
});
