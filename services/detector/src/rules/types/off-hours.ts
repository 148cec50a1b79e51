import { eventMs, alertId, maxSeverity, createSchedule } from '../../engine/rule-api.js';
import { Severity } from '@vigie/contract';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import {
  byWhom,
  firstSeenIn,
  fromWhere,
  humanCount,
  isPrivilegedSession,
  sessionSeed,
  severityByPlace,
} from './common.js';

const Params = z
  .object({
    privilegedOnly: z
      .boolean()
      .default(true)
      .describe('only privileged roles (catalog + policy roles.privileged); false watches every role'),
    outsideBastionSeverity: Severity.default('critical').describe('severity when the client is not the bastion'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
  })
  .strict();

/**
 * `off-hours`: a (privileged) role's session starting or running statements outside the policy's business hours
 * (time zone, days, holidays). One alert per session, updated with its statement count.
 */
export const offHours = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  let inHours: ((tsMs: number) => boolean) | undefined;
  return {
    ...base,
    type: 'off-hours',
    kinds: ['session.start', 'statement', 'replication.connection'],
    quietMs,
    needsPrivilegedRoles: p.privilegedOnly,
    onEvent(event, session, ctx) {
      if (session === undefined) return;
      if (event.kind !== 'session.start' && event.kind !== 'statement' && event.kind !== 'replication.connection')
        return;
      const tsMs = eventMs(event);
      inHours ??= createSchedule(ctx.policy.policy);
      if (inHours(tsMs)) return;
      if (p.privilegedOnly && !isPrivilegedSession(session, ctx)) return;
      // The session's alert id, made once (kept as the rule's session state): every statement updates it.
      let id = session.rules.get(base.id) as string | undefined;
      if (id === undefined) {
        id = alertId(base.id, session.cluster, session.id);
        session.rules.set(base.id, id);
      }
      const severity = severityByPlace(base.severity, p.outsideBastionSeverity, session.clientClass);
      ctx.alerts.update(
        sessionSeed(base, session, ctx, event, { id, severity, quietMs }),
        id,
        (i) => {
          i.alert.severity = maxSeverity(i.alert.severity, severity);
          i.alert.who.privileged = isPrivilegedSession(session, ctx);
          if (session.effectiveRole !== undefined) i.alert.who.effectiveRole = session.effectiveRole;
          if (event.kind === 'statement') i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
        },
        { eventId: event.id, tsMs, statement: event.kind === 'statement' ? event.sql.redacted : undefined },
      );
    },
    summarize(alert, _facts, timeZone) {
      const first = firstSeenIn(alert, timeZone);
      const who = alert.who.privileged === true ? 'privileged session' : 'session';
      const n = alert.what.statements ?? 0;
      return `${who} ${byWhom(alert)} ${fromWhere(alert)} outside business hours (${first.weekday} ${first.date} ${first.time} ${timeZone}), ${humanCount(n)} statement${n === 1 ? '' : 's'} so far`;
    },
  };
});
